"""TPUEstimatorSpec: every validation error, and the conversion to an EstimatorSpec for CPU runs."""

from __future__ import annotations

import pytest
import tensorflow as tf

from estimator_lib.mode_keys import ModeKeys
from estimator_lib.spec import EstimatorSpec
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


@pytest.fixture
def tensors(graph):
    labels = tf.constant([0, 1, 2, 1])
    logits = tf.constant([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    loss = tf.constant(0.5)
    return labels, logits, loss


def metric_fn(labels, logits):
    return {"accuracy": v1.metrics.accuracy(labels=labels, predictions=tf.argmax(logits, 1))}


def eval_spec(loss, eval_metrics):
    return TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, eval_metrics=eval_metrics)


@pytest.mark.parametrize("field", ["eval_metrics", "host_call"])
@pytest.mark.parametrize("bad", [lambda labels: {}, (metric_fn,), (metric_fn, [], "extra"), "metric_fn"])
def test_fn_and_tensors_must_be_a_pair(tensors, field, bad):
    _, _, loss = tensors
    with pytest.raises(ValueError, match=rf"{field} must be a \(function, tensors\) pair.*received"):
        TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, **{field: bad})


@pytest.mark.parametrize("field", ["eval_metrics", "host_call"])
def test_fn_must_be_callable(tensors, field):
    labels, logits, loss = tensors
    with pytest.raises(TypeError, match=rf"{field}\[0\] must be callable; received 'metric_fn' of type str"):
        TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, **{field: ("metric_fn", [labels, logits])})


@pytest.mark.parametrize("field", ["eval_metrics", "host_call"])
def test_tensors_must_be_list_tuple_or_dict(tensors, field):
    labels, _, loss = tensors
    with pytest.raises(TypeError, match=rf"{field}\[1\] must be a list, tuple or dict of Tensors; "
                                        r"received SymbolicTensor: <tf.Tensor"):
        TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, **{field: (metric_fn, labels)})


def test_tensors_must_be_tensors(tensors):
    labels, _, loss = tensors
    with pytest.raises(TypeError, match=r"eval_metrics tensors must all be Tensors; received 1 of type int"):
        eval_spec(loss, (metric_fn, [labels, [1, 2]]))


def test_list_length_must_match_positional_args(tensors):
    labels, logits, loss = tensors
    with pytest.raises(ValueError, match=r"'metric_fn' takes 2 positional argument\(s\).*but 3 tensor\(s\) were given"):
        eval_spec(loss, (metric_fn, [labels, logits, logits]))
    with pytest.raises(ValueError, match=r"takes 2 positional argument\(s\) \(\['labels', 'logits'\]\) but 1 tensor"):
        eval_spec(loss, (metric_fn, [labels]))


def test_list_length_counts_defaults_and_varargs(tensors):
    labels, logits, loss = tensors

    def with_default(labels, logits, weights=None):
        return metric_fn(labels, logits)

    def with_varargs(*args):
        return metric_fn(*args)

    assert eval_spec(loss, (with_default, [labels, logits])).eval_metrics[0] is with_default
    assert eval_spec(loss, (with_default, (labels, logits, logits))).eval_metrics[0] is with_default
    assert eval_spec(loss, (with_varargs, [labels, logits])).eval_metrics[0] is with_varargs


def test_dict_keys_must_match_fn_args(tensors):
    labels, logits, loss = tensors
    with pytest.raises(ValueError, match=r"dict keys \['labels', 'logitz'\].*"
                                         r"unknown \['logitz'\], missing \['logits'\]"):
        eval_spec(loss, (metric_fn, {"labels": labels, "logitz": logits}))
    spec = eval_spec(loss, (metric_fn, {"labels": labels, "logits": logits}))
    assert set(spec.eval_metrics[1]) == {"labels", "logits"}

    def takes_kwargs(**kwargs):
        return {}

    assert eval_spec(loss, (takes_kwargs, {"anything": labels})).eval_metrics[0] is takes_kwargs


def test_host_call_rejects_scalar_tensors(tensors):
    labels, _, loss = tensors

    def host_fn(step, loss):
        return []

    scalar = r"host_call tensors .* rank >= 1; .* is a scalar\. Return a batch-major tensor, or reshape it: tf\.reshape"
    with pytest.raises(ValueError, match=scalar):
        TPUEstimatorSpec(mode=ModeKeys.TRAIN, loss=loss, train_op=tf.no_op(), host_call=(host_fn, [labels, loss]))
    spec = TPUEstimatorSpec(
        mode=ModeKeys.TRAIN, loss=loss, train_op=tf.no_op(), host_call=(host_fn, [labels, tf.reshape(loss, [1])])
    )
    assert spec.host_call[0] is host_fn


def test_scaffold_fn_must_be_callable_and_return_a_scaffold(tensors):
    _, _, loss = tensors
    with pytest.raises(TypeError, match=r"scaffold_fn must be a function returning a Scaffold; received 3"):
        TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, scaffold_fn=3)
    spec = TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, scaffold_fn=lambda: "not a scaffold")
    with pytest.raises(TypeError, match=r"scaffold_fn must return a tf.compat.v1.train.Scaffold; it returned str"):
        spec.as_estimator_spec()
    scaffold = v1.train.Scaffold()
    converted = TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, scaffold_fn=lambda: scaffold).as_estimator_spec()
    assert converted.scaffold is scaffold


def test_shared_field_checks(graph, tensors):
    _, _, loss = tensors
    with pytest.raises(ValueError, match="mode"):
        TPUEstimatorSpec(mode="fit", loss=loss)
    with pytest.raises((ValueError, TypeError), match="train_op"):
        TPUEstimatorSpec(mode=ModeKeys.TRAIN, loss=loss)
    with pytest.raises((ValueError, TypeError), match="predictions"):
        TPUEstimatorSpec(mode=ModeKeys.PREDICT)
    with pytest.raises((ValueError, TypeError), match="hooks"):
        TPUEstimatorSpec(mode=ModeKeys.EVAL, loss=loss, evaluation_hooks=["not a hook"])


def test_as_estimator_spec_for_cpu(tensors):
    labels, logits, loss = tensors
    hook = v1.train.StopAtStepHook(last_step=1)
    spec = TPUEstimatorSpec(
        mode=ModeKeys.EVAL, loss=loss, eval_metrics=(metric_fn, [labels, logits]), evaluation_hooks=[hook]
    )
    converted = spec.as_estimator_spec()
    assert isinstance(converted, EstimatorSpec)
    assert converted.loss is loss
    assert list(converted.eval_metric_ops) == ["accuracy"]
    assert list(converted.evaluation_hooks) == [hook]
    with v1.Session() as session:
        value, update = converted.eval_metric_ops["accuracy"]
        session.run(v1.local_variables_initializer())
        session.run(update)
        assert session.run(value) == pytest.approx(0.75)


def test_as_estimator_spec_keyword_tensors(tensors):
    labels, logits, loss = tensors
    seen = {}

    def by_keyword(logits, labels):
        seen["logits"], seen["labels"] = logits, labels
        return metric_fn(labels, logits)

    TPUEstimatorSpec(
        mode=ModeKeys.EVAL, loss=loss, eval_metrics=(by_keyword, {"labels": labels, "logits": logits})
    ).as_estimator_spec()
    assert seen == {"logits": logits, "labels": labels}


def test_train_and_predict_specs_convert(tensors):
    _, logits, loss = tensors
    train_op = tf.no_op()
    train = TPUEstimatorSpec(mode=ModeKeys.TRAIN, loss=loss, train_op=train_op).as_estimator_spec()
    assert train.train_op is train_op and train.mode == ModeKeys.TRAIN
    predict = TPUEstimatorSpec(mode=ModeKeys.PREDICT, predictions={"logits": logits}).as_estimator_spec()
    assert predict.predictions["logits"] is logits
