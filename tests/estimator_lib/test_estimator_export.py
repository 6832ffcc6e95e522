"""export_saved_model: signatures, receivers, export outputs, assets, atomic directories, and parity
between the loaded SavedModel and predict()."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, linear_net, make_data, make_input_fn

from estimator_lib.estimator import Estimator
from estimator_lib.export import (
    ClassificationOutput,
    PredictOutput,
    RegressionOutput,
    ServingInputReceiver,
    TensorServingInputReceiver,
    build_parsing_serving_input_receiver_fn,
    build_raw_serving_input_receiver_fn,
)
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
DEFAULT = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
FEATURE_SPEC = {"x": tf.io.FixedLenFeature([2], tf.float32)}


def multi_head_model_fn(features, labels, mode):
    """The linear model with three serving heads: predict (default), regress and classify."""
    if mode != ModeKeys.PREDICT:
        return linear_model_fn(features, labels, mode, {})
    y = linear_net(features)
    positive = tf.sigmoid(y)
    scores = tf.concat([positive, 1.0 - positive], axis=1)
    classes = tf.tile(tf.constant([["pos", "neg"]]), [tf.shape(y)[0], 1])
    return EstimatorSpec(
        mode,
        predictions={"y": y, "scores": scores},
        export_outputs={
            DEFAULT: PredictOutput({"y": y, "scores": scores}),
            "regress": RegressionOutput(tf.reshape(y, [-1])),
            "classify": ClassificationOutput(scores=scores, classes=classes),
        },
    )


def serialized_examples(x: np.ndarray) -> tf.Tensor:
    return tf.constant(serialized_rows(x))


def serialized_rows(x: np.ndarray) -> list[bytes]:
    return [
        tf.train.Example(
            features=tf.train.Features(feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=row))})
        ).SerializeToString()
        for row in x
    ]


def predict_input_fn():
    return make_input_fn(n=16, batch=8, repeat=False, labels=False, seed=3)()


@pytest.fixture(scope="module")
def multi_head_export(trained_linear_dir, tmp_path_factory):
    """One export of the three-headed model through a parsing receiver, with an extra asset."""
    base = tmp_path_factory.mktemp("exports")
    asset = base / "vocab.txt"
    asset.write_text("pos\nneg\n")
    estimator = Estimator(multi_head_model_fn, model_dir=trained_linear_dir)
    path = estimator.export_saved_model(
        str(base / "multi"),
        build_parsing_serving_input_receiver_fn(FEATURE_SPEC),
        assets_extra={"vocab/labels.txt": str(asset)},
    )
    return estimator, path


def test_export_returns_bytes_of_a_timestamped_dir(multi_head_export):
    _, path = multi_head_export
    assert isinstance(path, bytes)
    path = path.decode()
    base, name = os.path.split(path)
    assert name.isdigit() and int(name) > 1_600_000_000
    assert os.listdir(base) == [name]  # no temporary directory left behind
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    assert os.path.isfile(os.path.join(path, "variables", "variables.index"))


def test_assets_extra_copied(multi_head_export):
    _, path = multi_head_export
    with open(os.path.join(path.decode(), "assets.extra", "vocab", "labels.txt")) as handle:
        assert handle.read() == "pos\nneg\n"


def test_one_signature_per_export_output(multi_head_export):
    _, path = multi_head_export
    loaded = tf.saved_model.load(path.decode())
    assert set(loaded.signatures) == {DEFAULT, "regress", "classify"}


def test_signatures_reproduce_predict(multi_head_export):
    estimator, path = multi_head_export
    loaded = tf.saved_model.load(path.decode())
    x, _ = make_data(16, seed=3)
    predicted = list(estimator.predict(predict_input_fn))
    expected_y = np.stack([p["y"] for p in predicted])
    expected_scores = np.stack([p["scores"] for p in predicted])

    served = loaded.signatures[DEFAULT](examples=serialized_examples(x))
    np.testing.assert_allclose(served["y"].numpy(), expected_y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["scores"].numpy(), expected_scores, rtol=1e-5, atol=1e-6)

    regressed = loaded.signatures["regress"](inputs=serialized_examples(x))
    np.testing.assert_allclose(regressed["outputs"].numpy(), expected_y[:, 0], rtol=1e-5, atol=1e-6)

    classified = loaded.signatures["classify"](inputs=serialized_examples(x))
    np.testing.assert_allclose(classified["scores"].numpy(), expected_scores, rtol=1e-5, atol=1e-6)
    assert classified["classes"].numpy()[0].tolist() == [b"pos", b"neg"]


def test_raw_receiver_export_and_alias(trained_linear, tmp_path):
    receiver_fn = build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])})
    path = trained_linear.export_savedmodel(str(tmp_path), receiver_fn)  # the TF1 spelling
    assert isinstance(path, bytes)
    loaded = tf.saved_model.load(path.decode())
    assert set(loaded.signatures) == {DEFAULT}  # no export_outputs: a PredictOutput of the predictions
    x, _ = make_data(16, seed=3)
    served = loaded.signatures[DEFAULT](x=tf.constant(x))
    expected = np.stack([p["y"] for p in trained_linear.predict(predict_input_fn)])
    np.testing.assert_allclose(served["y"].numpy(), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(served["doubled"].numpy(), 2 * expected, rtol=1e-5, atol=1e-6)


def test_two_exports_get_two_directories(trained_linear, tmp_path):
    receiver_fn = build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])})
    first = trained_linear.export_saved_model(str(tmp_path), receiver_fn)
    second = trained_linear.export_saved_model(str(tmp_path), receiver_fn)
    assert first != second
    assert sorted(os.listdir(tmp_path)) == sorted(os.path.basename(p.decode()) for p in (first, second))


def test_raw_receiver_with_batch_size():
    with tf.Graph().as_default():
        receiver = build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])}, default_batch_size=4)()
    assert isinstance(receiver, ServingInputReceiver)
    assert receiver.features["x"].shape.as_list() == [4, 2]
    assert receiver.receiver_tensors["x"] is receiver.features["x"]


def test_tensor_serving_input_receiver_export(trained_linear_dir, tmp_path):
    seen = []

    def model_fn(features, mode):
        seen.append(features)
        return EstimatorSpec(mode, predictions={"y": linear_net(features)})

    def receiver_fn():
        x = v1.placeholder(tf.float32, [None, 2], name="x")
        return TensorServingInputReceiver(features=x, receiver_tensors={"x": x})

    estimator = Estimator(model_fn, model_dir=trained_linear_dir)
    path = estimator.export_saved_model(str(tmp_path), receiver_fn, as_text=True)
    assert isinstance(seen[-1], tf.Tensor)  # model_fn got the bare tensor, not a dict
    assert os.path.isfile(os.path.join(path.decode(), "saved_model.pbtxt"))
    x, _ = make_data(16, seed=3)
    served = tf.saved_model.load(path.decode()).signatures[DEFAULT](x=tf.constant(x))
    w, b = estimator.get_variable_value(["w", "b"])
    np.testing.assert_allclose(served["y"].numpy(), x @ w + b, rtol=1e-5, atol=1e-6)


def test_receiver_alternatives_get_their_own_signatures(trained_linear, tmp_path):
    """An alternative receiver feeds the parsed feature tensor directly: its own signature, same answers."""

    def receiver_fn():
        parsing = build_parsing_serving_input_receiver_fn(FEATURE_SPEC)()
        return ServingInputReceiver(
            parsing.features,
            parsing.receiver_tensors,
            receiver_tensors_alternatives={"raw": {"x": parsing.features["x"]}},
        )

    path = trained_linear.export_saved_model(str(tmp_path), receiver_fn)
    loaded = tf.saved_model.load(path.decode())
    assert set(loaded.signatures) == {DEFAULT, f"{DEFAULT}:raw"}
    x, _ = make_data(4, seed=3)
    from_examples = loaded.signatures[DEFAULT](examples=serialized_examples(x))["y"].numpy()
    from_raw = loaded.signatures[f"{DEFAULT}:raw"](x=tf.constant(x))["y"].numpy()
    np.testing.assert_allclose(from_raw, from_examples, rtol=1e-6)


# ---- errors and atomicity ---------------------------------------------------------------------------------
def test_export_before_any_checkpoint(tmp_path):
    estimator = Estimator(linear_model_fn, model_dir=str(tmp_path / "model"))
    with pytest.raises(ValueError, match=r"Cannot export: no checkpoint in model_dir '.*model'. Train first"):
        estimator.export_saved_model(str(tmp_path / "export"), build_parsing_serving_input_receiver_fn(FEATURE_SPEC))


def test_export_argument_validation(trained_linear, tmp_path):
    receiver_fn = build_parsing_serving_input_receiver_fn(FEATURE_SPEC)
    with pytest.raises(
        ValueError, match=r"serving_input_receiver_fn must be a function returning a ServingInputReceiver; received 'r'"
    ):
        trained_linear.export_saved_model(str(tmp_path), "r")
    with pytest.raises(ValueError, match=r"export_dir_base must be a directory path; received ''"):
        trained_linear.export_saved_model("", receiver_fn)
    with pytest.raises(
        TypeError,
        match=r"serving_input_receiver_fn must return a ServingInputReceiver or TensorServingInputReceiver; "
        r"received dict",
    ):
        trained_linear.export_saved_model(str(tmp_path / "a"), lambda: {"x": 1})
    with pytest.raises(ValueError, match=r"checkpoint_path='/nope/model.ckpt-3' is not a checkpoint"):
        trained_linear.export_saved_model(str(tmp_path / "b"), receiver_fn, checkpoint_path="/nope/model.ckpt-3")


def test_failed_export_leaves_nothing(trained_linear, tmp_path):
    base = tmp_path / "exports"
    receiver_fn = build_parsing_serving_input_receiver_fn(FEATURE_SPEC)
    with pytest.raises(ValueError, match=r"assets_extra source '/no/such/file' \(for 'a.txt'\) does not exist"):
        trained_linear.export_saved_model(str(base), receiver_fn, assets_extra={"a.txt": "/no/such/file"})
    assert os.listdir(base) == []
    with pytest.raises(
        ValueError, match=r"assets_extra destination '/abs' must be a relative path inside assets.extra/"
    ):
        trained_linear.export_saved_model(str(base), receiver_fn, assets_extra={"/abs": __file__})
    assert os.listdir(base) == []


def test_default_signature_must_be_buildable(trained_linear_dir, tmp_path):
    """A classification head needs serialized tf.Examples; with raw tensors the default cannot be built."""

    def model_fn(features, mode):
        y = linear_net(features)
        return EstimatorSpec(mode, predictions=y, export_outputs={"c": ClassificationOutput(scores=y)})

    estimator = Estimator(model_fn, model_dir=trained_linear_dir)
    receiver_fn = build_raw_serving_input_receiver_fn({"x": tf.zeros([1, 2])})
    with pytest.raises(
        ValueError,
        match=r"The default serving signature cannot be built: A classification signature needs a string input tensor",
    ):
        estimator.export_saved_model(str(tmp_path / "e"), receiver_fn)
    assert os.listdir(tmp_path / "e") == []


# ---- export outputs and receivers: validation ------------------------------------------------------------
@pytest.fixture
def graph():
    with tf.Graph().as_default() as graph:
        yield graph


def test_classification_output_validation(graph):
    scores = tf.constant([[0.5, 0.5]])
    with pytest.raises(ValueError, match="ClassificationOutput needs scores, classes or both; received neither"):
        ClassificationOutput()
    with pytest.raises(
        ValueError, match=r"ClassificationOutput scores must be a float Tensor; received <tf.Tensor .*int32"
    ):
        ClassificationOutput(scores=tf.constant([[1, 0]]))
    with pytest.raises(
        ValueError, match=r"ClassificationOutput classes must be a string Tensor \(use tf.strings.as_string on ids\)"
    ):
        ClassificationOutput(classes=tf.constant([[1]]))
    output = ClassificationOutput(scores=scores, classes=tf.constant([["a", "b"]]))
    assert set(output.outputs) == {"scores", "classes"}


def test_regression_output_validation(graph):
    with pytest.raises(ValueError, match=r"RegressionOutput value must be a float Tensor; received \[1.0\]"):
        RegressionOutput([1.0])
    with pytest.raises(
        ValueError, match=r"RegressionOutput value must be a float Tensor; received <tf.Tensor .*string"
    ):
        RegressionOutput(tf.constant(["a"]))
    assert set(RegressionOutput(tf.constant([1.0])).outputs) == {"outputs"}


def test_predict_output_validation(graph):
    with pytest.raises(ValueError, match=r"PredictOutput\['y'\] must be a Tensor; received 3"):
        PredictOutput({"y": 3})
    with pytest.raises(ValueError, match="PredictOutput keys must be strings; received key 1"):
        PredictOutput({1: tf.constant(1.0)})
    single = tf.constant([1.0])
    assert PredictOutput(single).outputs == {"output": single}


def test_receiver_validation(graph):
    x = v1.placeholder(tf.float32, [None, 2])
    with pytest.raises(ValueError, match="ServingInputReceiver needs features; received None"):
        ServingInputReceiver(None, {"x": x})
    with pytest.raises(
        ValueError, match=r"receiver_tensors\['x'\] must be a Tensor, SparseTensor or RaggedTensor; received 'x'"
    ):
        ServingInputReceiver({"x": x}, {"x": "x"})
    with pytest.raises(
        ValueError, match=r"features must be a Tensor or a non-empty dict of string to Tensor; received \{\}"
    ):
        ServingInputReceiver({}, {"x": x})
    with pytest.raises(ValueError, match="receiver_tensors_alternatives must be a dict of name -> receiver tensors"):
        ServingInputReceiver({"x": x}, {"x": x}, receiver_tensors_alternatives=[x])
    with pytest.raises(
        ValueError, match=r"TensorServingInputReceiver features must be a single Tensor; received \{'x'"
    ):
        TensorServingInputReceiver({"x": x}, {"x": x})
    bare = ServingInputReceiver(x, x)
    assert bare.features == {"feature": x} and bare.receiver_tensors == {"input": x}
    with pytest.raises(ValueError, match=r"feature_spec must be a non-empty dict of name -> tf.io.FixedLenFeature"):
        build_parsing_serving_input_receiver_fn({})


def test_parsing_receiver_parses_examples(graph):
    receiver = build_parsing_serving_input_receiver_fn(FEATURE_SPEC)()
    (examples,) = receiver.receiver_tensors.values()
    assert list(receiver.receiver_tensors) == ["examples"] and examples.dtype == tf.string
    with v1.Session() as session:
        parsed = session.run(receiver.features["x"], {examples: serialized_rows(np.array([[1.0, 2.0]]))})
    np.testing.assert_array_equal(parsed, [[1.0, 2.0]])


# ---- receivers: what the original accepted ----------------------------------------------------------------
def test_receiver_features_may_have_int_keys_but_receiver_tensors_may_not(graph):
    x = v1.placeholder(tf.float32, [None, 2])
    assert ServingInputReceiver({0: x, "y": x}, {"x": x}).features == {0: x, "y": x}
    with pytest.raises(ValueError, match="receiver_tensors keys must be strings; received key 0"):
        ServingInputReceiver({"x": x}, {0: x})


class _Wrapped:
    """A tensor wrapper with a registered conversion and a `.tensor` attribute (like a labeled tensor)."""

    def __init__(self, tensor):
        self.tensor = tensor


tf.register_tensor_conversion_function(_Wrapped, lambda value, dtype=None, name=None, as_ref=False: value.tensor)


def test_receiver_accepts_tensor_wrappers_with_a_conversion(graph):
    x = v1.placeholder(tf.float32, [None, 2])
    receiver = ServingInputReceiver({"x": _Wrapped(x)}, {"x": x})
    assert receiver.features["x"] is x


def test_raw_receiver_keeps_an_unknown_shape_unknown(graph):
    """A template of unknown rank gives a placeholder of unknown shape, not (None,)."""
    shapeless = v1.placeholder(tf.float32, shape=None)
    matrix = v1.placeholder(tf.float32, shape=[4, 3])
    receiver = build_raw_serving_input_receiver_fn({"any": shapeless, "m": matrix})()
    assert receiver.features["any"].shape.rank is None
    assert receiver.features["m"].shape.as_list() == [None, 3]
