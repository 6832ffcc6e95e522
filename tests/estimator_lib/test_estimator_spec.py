"""EstimatorSpec: every validation, its message, and the namedtuple behaviour the seeds document."""

from __future__ import annotations

import keras
import pytest
import tensorflow as tf

from estimator_lib.export.export_output import ClassificationOutput, PredictOutput, RegressionOutput
from estimator_lib.hooks import SessionRunHook
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec

v1 = tf.compat.v1
DEFAULT = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY


@pytest.fixture
def graph():
    with tf.Graph().as_default() as graph:
        yield graph


@pytest.fixture
def parts(graph):
    """A scalar loss, a train_op and predictions in the current graph."""
    x = tf.constant([[1.0, 2.0]])
    w = v1.get_variable("w", [2, 1], initializer=v1.ones_initializer())
    y = tf.matmul(x, w)
    loss = tf.reduce_sum(y)
    global_step = v1.train.get_or_create_global_step()
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=global_step)
    return {"loss": loss, "train_op": train_op, "predictions": {"y": y}, "y": y}


def test_mode_keys_values():
    assert (ModeKeys.TRAIN, ModeKeys.EVAL, ModeKeys.PREDICT) == ("train", "eval", "infer")


def test_public_names():
    """What users import from tf.estimator is importable from the package itself."""
    import estimator_lib

    for name in (
        "Estimator", "EstimatorSpec", "ModeKeys", "RunConfig", "WarmStartSettings", "SessionRunHook",
        "SessionRunArgs", "CheckpointSaverListener", "StopAtStepHook", "CheckpointSaverHook", "LoggingTensorHook",
        "StepCounterHook", "SummarySaverHook", "NanTensorHook", "FeedFnHook", "ProfilerHook", "FinalOpsHook",
        "GlobalStepWaiterHook", "NanLossDuringTrainingError",
    ):
        assert hasattr(estimator_lib, name), name
    for name in (
        "ServingInputReceiver", "TensorServingInputReceiver", "build_parsing_serving_input_receiver_fn",
        "build_raw_serving_input_receiver_fn", "ExportOutput", "ClassificationOutput", "RegressionOutput",
        "PredictOutput",
    ):
        assert hasattr(estimator_lib.export, name), name


# ---- required fields per mode ------------------------------------------------------------------------
def test_train_requires_train_op(parts):
    with pytest.raises(ValueError, match="train_op is missing: in TRAIN mode"):
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"])


def test_train_requires_loss(parts):
    with pytest.raises(ValueError, match="loss is missing: in TRAIN mode"):
        EstimatorSpec(ModeKeys.TRAIN, train_op=parts["train_op"])


def test_eval_requires_loss(parts):
    with pytest.raises(ValueError, match="loss is missing: in EVAL mode"):
        EstimatorSpec(ModeKeys.EVAL, predictions=parts["predictions"])


def test_predict_requires_predictions(parts):
    with pytest.raises(ValueError, match="predictions are missing: in PREDICT mode"):
        EstimatorSpec(ModeKeys.PREDICT, loss=parts["loss"])


def test_unknown_mode(parts):
    with pytest.raises(ValueError, match=r"mode must be one of ModeKeys.TRAIN.*received mode='training'"):
        EstimatorSpec("training", loss=parts["loss"], train_op=parts["train_op"])


def test_every_mode_accepts_all_fields(parts):
    """The seeds: model_fn may fill every field whatever the mode; the Estimator ignores the extras."""
    for mode in ModeKeys.ALL:
        spec = EstimatorSpec(mode, predictions=parts["predictions"], loss=parts["loss"], train_op=parts["train_op"])
        assert spec.mode == mode


# ---- loss ----------------------------------------------------------------------------------------------
def test_loss_not_scalar(graph):
    with pytest.raises(ValueError, match=r"loss must be a scalar \(or hold a single element\); received shape \(2,\)"):
        EstimatorSpec(ModeKeys.EVAL, loss=tf.constant([1.0, 2.0]))


def test_loss_matrix_of_several_elements_not_scalar(graph):
    with pytest.raises(ValueError, match=r"received shape \(2, 1\).*tf.reduce_mean"):
        EstimatorSpec(ModeKeys.EVAL, loss=tf.constant([[1.0], [2.0]]))


def test_loss_of_shape_one_is_reshaped(graph):
    spec = EstimatorSpec(ModeKeys.EVAL, loss=tf.constant([3.0]))
    assert spec.loss.shape.rank == 0
    with v1.Session() as session:
        assert session.run(spec.loss) == 3.0


def test_loss_of_shape_one_by_one_is_reshaped(graph):
    """The original accepted any loss holding one element."""
    spec = EstimatorSpec(ModeKeys.EVAL, loss=tf.constant([[4.0]]))
    assert spec.loss.shape.rank == 0
    with v1.Session() as session:
        assert session.run(spec.loss) == 4.0


def test_loss_of_unknown_batch_and_one_column_is_accepted_and_reshaped(graph):
    """(None, 1) may hold one element: accepted when built, a scalar when run with one row."""
    loss = v1.placeholder(tf.float32, shape=(None, 1))
    spec = EstimatorSpec(ModeKeys.EVAL, loss=loss)
    assert spec.loss.shape.rank == 0
    with v1.Session() as session:
        assert session.run(spec.loss, {loss: [[5.0]]}) == 5.0
        with pytest.raises(tf.errors.InvalidArgumentError):
            session.run(spec.loss, {loss: [[5.0], [6.0]]})


def test_loss_of_unknown_rank_is_accepted(graph):
    loss = v1.placeholder(tf.float32, shape=None)
    assert EstimatorSpec(ModeKeys.EVAL, loss=loss).loss is loss


def test_loss_not_a_tensor(graph):
    with pytest.raises(TypeError, match="loss must be a scalar Tensor; received loss=1.0 of type float"):
        EstimatorSpec(ModeKeys.EVAL, loss=1.0)


def test_train_op_not_an_op(parts):
    with pytest.raises(TypeError, match="train_op must be an Operation or Tensor.*received 'step' of type str"):
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op="step")


# ---- tensors from another graph ------------------------------------------------------------------------
def test_loss_from_another_graph(graph):
    with tf.Graph().as_default():
        foreign = tf.constant(1.0)
    with pytest.raises(ValueError, match="loss holds .* which was created in another graph"):
        EstimatorSpec(ModeKeys.EVAL, loss=foreign)


def test_train_op_from_another_graph(parts):
    with tf.Graph().as_default():
        foreign_op = tf.no_op()
    with pytest.raises(ValueError, match="train_op holds .* created in another graph"):
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=foreign_op)


def test_predictions_from_another_graph(graph):
    with tf.Graph().as_default():
        foreign = tf.constant([1.0])
    with pytest.raises(ValueError, match="predictions holds .* created in another graph"):
        EstimatorSpec(ModeKeys.PREDICT, predictions={"y": foreign})


def test_metric_from_another_graph(parts):
    with tf.Graph().as_default():
        foreign = v1.metrics.mean(tf.constant(1.0))
    with pytest.raises(ValueError, match=r"eval_metric_ops\['m'\] holds .* created in another graph"):
        EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"m": foreign})


# ---- predictions ---------------------------------------------------------------------------------------
def test_predictions_tensor_or_dict(parts):
    assert EstimatorSpec(ModeKeys.PREDICT, predictions=parts["y"]).predictions is parts["y"]
    assert EstimatorSpec(ModeKeys.PREDICT, predictions=parts["predictions"]).predictions == parts["predictions"]


def test_predictions_not_tensor(graph):
    message = r"predictions must be a Tensor or a dict of string to Tensor; received \[1, 2\]"
    with pytest.raises(TypeError, match=message):
        EstimatorSpec(ModeKeys.PREDICT, predictions=[1, 2])


def test_predictions_dict_value_not_tensor(graph):
    with pytest.raises(TypeError, match=r"predictions\['y'\] must be a Tensor; received 3 of type int"):
        EstimatorSpec(ModeKeys.PREDICT, predictions={"y": 3})


def test_sparse_predictions_refused(graph):
    sparse = tf.SparseTensor(indices=[[0, 0]], values=[1.0], dense_shape=[2, 2])
    with pytest.raises(TypeError, match=r"predictions\['s'\] is a SparseTensor; .*tf.sparse.to_dense"):
        EstimatorSpec(ModeKeys.PREDICT, predictions={"s": sparse})
    with pytest.raises(TypeError, match=r"predictions is a SparseTensor"):
        EstimatorSpec(ModeKeys.PREDICT, predictions=sparse)


def test_predictions_dict_key_not_string(parts):
    with pytest.raises(TypeError, match="predictions keys must be strings; received key 1"):
        EstimatorSpec(ModeKeys.PREDICT, predictions={1: parts["y"]})


# ---- eval_metric_ops -----------------------------------------------------------------------------------
def test_eval_metric_ops_not_dict(parts):
    pair = v1.metrics.mean(parts["y"])
    with pytest.raises(TypeError, match="eval_metric_ops must be a dict of name -> .*received list"):
        EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops=[pair])


def test_eval_metric_value_not_pair(parts):
    with pytest.raises(TypeError, match=r"eval_metric_ops\['m'\] must be a \(metric_tensor, update_op\) pair"):
        EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"m": parts["y"]})


def test_eval_metric_pair_of_non_tensors(parts):
    with pytest.raises(TypeError, match=r"eval_metric_ops\['m'\] must hold Tensors or Operations; received 1"):
        EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"m": (1, 2)})


@pytest.mark.parametrize("reserved", ["loss", "global_step"])
def test_reserved_metric_names_are_accepted_when_the_spec_is_built(parts, reserved):
    """The original refused them in evaluate() only (tests/estimator_lib/test_original_behaviour.py)."""
    pair = v1.metrics.mean(parts["y"])
    spec = EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={reserved: pair})
    assert spec.eval_metric_ops[reserved] == pair


def test_nested_metric_value_accepted(parts):
    nested = ((tf.constant(2.0), tf.constant(1)), tf.constant(3.0, tf.float64))
    spec = EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"nested": (nested, tf.no_op())})
    assert spec.eval_metric_ops["nested"][0] == nested


def test_keras_metric_without_updates_refused_when_the_spec_is_built(parts):
    accuracy = keras.metrics.Accuracy(name="acc_never_updated")
    with pytest.raises(ValueError, match="'acc_never_updated' was never updated in model_fn: call metric.update_state"):
        EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"acc": accuracy})


def test_keras_metric_from_another_graph_refused(parts):
    with tf.Graph().as_default():
        foreign = keras.metrics.Mean(name="foreign_mean")
        foreign.update_state([1.0])
    with pytest.raises(ValueError, match="'foreign_mean' holds variable .* from another graph"):
        EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"m": foreign})


def test_eval_metric_pair_and_keras_metric_accepted(parts):
    pair = v1.metrics.mean(parts["y"])
    accuracy = keras.metrics.Accuracy()
    accuracy.update_state([1], [1])
    spec = EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"], eval_metric_ops={"mean": list(pair), "acc": accuracy})
    assert spec.eval_metric_ops["mean"] == pair  # a list pair is normalised to a tuple
    assert spec.eval_metric_ops["acc"] is accuracy


def test_no_eval_metric_ops_is_empty_dict(parts):
    assert EstimatorSpec(ModeKeys.EVAL, loss=parts["loss"]).eval_metric_ops == {}


# ---- export_outputs ------------------------------------------------------------------------------------
def test_export_outputs_not_dict(parts):
    with pytest.raises(
        TypeError, match="export_outputs must be a dict of signature name -> ExportOutput.*received list"
    ):
        EstimatorSpec(ModeKeys.PREDICT, predictions=parts["y"], export_outputs=[PredictOutput(parts["y"])])


def test_export_outputs_value_not_export_output(parts):
    with pytest.raises(TypeError, match=r"export_outputs\['head'\] must be an ExportOutput .*received <tf.Tensor"):
        EstimatorSpec(ModeKeys.PREDICT, predictions=parts["y"], export_outputs={"head": parts["y"]})


def test_several_export_outputs_need_serving_default(parts):
    outputs = {"a": PredictOutput(parts["y"]), "b": RegressionOutput(parts["y"])}
    with pytest.raises(
        ValueError, match=r"export_outputs has several entries \['a', 'b'\] but none is named 'serving_default'"
    ):
        EstimatorSpec(ModeKeys.PREDICT, predictions=parts["y"], export_outputs=outputs)


def test_several_export_outputs_with_serving_default(parts):
    outputs = {DEFAULT: PredictOutput(parts["y"]), "regress": RegressionOutput(parts["y"])}
    spec = EstimatorSpec(ModeKeys.PREDICT, predictions=parts["y"], export_outputs=outputs)
    assert set(spec.export_outputs) == {DEFAULT, "regress"}


def test_single_export_output_becomes_default(parts):
    head = ClassificationOutput(scores=parts["y"])
    spec = EstimatorSpec(ModeKeys.PREDICT, predictions=parts["y"], export_outputs={"head": head})
    assert spec.export_outputs[DEFAULT] is head
    assert spec.export_outputs["head"] is head


def test_missing_export_outputs_default_to_predictions(parts):
    spec = EstimatorSpec(ModeKeys.PREDICT, predictions=parts["predictions"])
    ((name, output),) = spec.export_outputs.items()
    assert name == DEFAULT and isinstance(output, PredictOutput)
    assert output.outputs == parts["predictions"]


# ---- hooks and scaffold ----------------------------------------------------------------------------------
@pytest.mark.parametrize("field", ["training_chief_hooks", "training_hooks", "evaluation_hooks", "prediction_hooks"])
def test_hooks_must_be_session_run_hooks(parts, field):
    with pytest.raises(
        TypeError, match=f"{field} must contain only SessionRunHook instances.*received 'hook' of type str"
    ):
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"], **{field: ["hook"]})


def test_single_hook_not_in_a_list(parts):
    with pytest.raises(TypeError, match="training_hooks must be a list of SessionRunHook, not a single hook; wrap it"):
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"], training_hooks=SessionRunHook())


def test_hooks_kept_as_tuples(parts):
    hook = SessionRunHook()
    spec = EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"], training_hooks=[hook])
    assert spec.training_hooks == (hook,)
    assert spec.training_chief_hooks == () and spec.evaluation_hooks == () and spec.prediction_hooks == ()


def test_scaffold_type(parts):
    with pytest.raises(TypeError, match="scaffold must be a tf.compat.v1.train.Scaffold; received 'sc' of type str"):
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"], scaffold="sc")


def test_scaffold_default_and_given(parts):
    spec = EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"])
    assert isinstance(spec.scaffold, v1.train.Scaffold)
    scaffold = v1.train.Scaffold()
    assert (
        EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"], scaffold=scaffold).scaffold
        is scaffold
    )


# ---- namedtuple behaviour --------------------------------------------------------------------------------
def test_positional_aliases(parts):
    """The seeds: mode is field 0, predictions 1, loss 2, train_op 3, ... evaluation_hooks 9, prediction_hooks 10."""
    hook = SessionRunHook()
    scaffold = v1.train.Scaffold()
    metric = v1.metrics.mean(parts["y"])
    spec = EstimatorSpec(
        ModeKeys.TRAIN,
        parts["predictions"],
        parts["loss"],
        parts["train_op"],
        {"m": metric},
        None,
        [hook],
        [hook],
        scaffold,
        [hook],
        [hook],
    )
    assert spec[0] == ModeKeys.TRAIN == spec.mode
    assert spec[1] is spec.predictions and spec[1]["y"] is parts["y"]
    assert spec[2] is spec.loss is parts["loss"]
    assert spec[3] is spec.train_op is parts["train_op"]
    assert spec[4] == spec.eval_metric_ops == {"m": metric}
    assert spec[5] is spec.export_outputs
    assert spec[6] == spec.training_chief_hooks == (hook,)
    assert spec[7] == spec.training_hooks == (hook,)
    assert spec[8] is spec.scaffold is scaffold
    assert spec[9] == spec.evaluation_hooks == (hook,)
    assert spec[10] == spec.prediction_hooks == (hook,)
    assert len(spec) == 11
    assert EstimatorSpec._fields == (
        "mode",
        "predictions",
        "loss",
        "train_op",
        "eval_metric_ops",
        "export_outputs",
        "training_chief_hooks",
        "training_hooks",
        "scaffold",
        "evaluation_hooks",
        "prediction_hooks",
    )
    mode, predictions, loss, *_ = spec
    assert (mode, loss) == (ModeKeys.TRAIN, parts["loss"])


def test_replace_keeps_validation(parts):
    spec = EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"])
    replaced = spec._replace(predictions=parts["predictions"])
    assert isinstance(replaced, EstimatorSpec) and replaced.predictions == parts["predictions"]
    assert spec._replace(mode=ModeKeys.TRAIN).mode == ModeKeys.TRAIN
    with pytest.raises(ValueError, match="train_op is missing"):
        spec._replace(train_op=None)
    with pytest.raises(TypeError, match="training_hooks must contain only SessionRunHook"):
        spec._replace(training_hooks=[object()])


def test_replace_cannot_change_mode(parts):
    spec = EstimatorSpec(ModeKeys.TRAIN, loss=parts["loss"], train_op=parts["train_op"])
    with pytest.raises(ValueError, match="EstimatorSpec._replace cannot change mode \\(from 'train' to 'eval'\\)"):
        spec._replace(mode=ModeKeys.EVAL)
