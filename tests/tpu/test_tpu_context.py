"""params['context']: passed when the original passed one (use_tpu=True; not with use_tpu=False, not for
evaluate with eval_on_tpu=False, not to model_fn in predict/export), with the original's public surface."""

from __future__ import annotations

import pytest
from tpu_testlib import estimator, eval_input_fn, logits_of, loss_of, train_input_fn, train_op_for

from estimator_lib.mode_keys import ModeKeys
from estimator_lib.tpu import TPUContext, TPUEstimatorSpec
from estimator_lib.tpu.context import host_of


class Seen:
    def __init__(self):
        self.inputs: list = []
        self.models: list = []

    def input_fn(self, params):
        self.inputs.append(params.get("context"))
        return (train_input_fn if "eval" not in params else eval_input_fn)(params)

    def model_fn(self, features, labels, mode, params):
        self.models.append((mode, params.get("context")))
        logits = logits_of(features)
        if mode == ModeKeys.PREDICT:
            return TPUEstimatorSpec(mode, predictions={"logits": logits})
        loss = loss_of(labels, logits)
        if mode == ModeKeys.EVAL:
            return TPUEstimatorSpec(mode, loss=loss, eval_metrics=(lambda: {}, []))
        return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss))


def test_context_on_two_cpu_replicas(tmp_path):
    seen = Seen()
    est = estimator(seen.model_fn, str(tmp_path), replicas=2)
    est.train(seen.input_fn, max_steps=1)
    context = seen.inputs[0]
    assert isinstance(context, TPUContext)
    assert (context.num_replicas, context.num_hosts, context.num_of_replicas_per_host) == (2, 1, 2)
    host = "/job:localhost/replica:0/task:0/device:CPU:0"
    assert context.current_input_fn_deployment() == (host, 0, 1, 2)
    assert context.current_host == 0
    assert [context.device_for_replica(i) for i in range(2)] == [(host, 0), (host, 1)]
    assert context.tpu_host_placement_function(host_id=0) == host
    with pytest.raises(RuntimeError, match=r"device_assignment is only available in model_fn"):
        _ = context.device_assignment
    mode, model_context = seen.models[0]
    assert mode == ModeKeys.TRAIN and model_context.num_replicas == 2
    assert model_context.device_assignment is None
    with pytest.raises(RuntimeError, match=r"current_input_fn_deployment\(\) is only available in input_fn"):
        model_context.current_input_fn_deployment()


def test_no_context_with_use_tpu_false(tmp_path):
    seen = Seen()
    est = estimator(seen.model_fn, str(tmp_path), replicas=1, use_tpu=False)
    est.train(seen.input_fn, max_steps=1)
    est.evaluate(lambda params: eval_input_fn(params), steps=1)
    list(est.predict(lambda params: eval_input_fn(params).map(lambda f, y: f), yield_single_examples=False))
    assert seen.inputs == [None]
    assert [context for _, context in seen.models] == [None, None, None]


def test_no_context_for_eval_on_cpu(tmp_path):
    seen = Seen()
    est = estimator(seen.model_fn, str(tmp_path), replicas=2, eval_on_tpu=False)
    est.train(seen.input_fn, max_steps=1)
    seen.models.clear()
    contexts = []

    def input_fn(params):
        contexts.append(params.get("context"))
        return eval_input_fn(params)

    est.evaluate(input_fn, steps=1)
    assert contexts == [None]
    assert [context for _, context in seen.models] == [None]


def test_bad_replica_and_host_ids():
    context = TPUContext(replica_devices=["/cpu:0", "/cpu:1"], mode="train", global_batch_size=8,
                         per_replica_batch_size=4, from_input_fn=True)
    out_of_range = r"replica_id must be an integer in \[0, 2\) \(num_replicas=2\); received replica_id=2"
    with pytest.raises(ValueError, match=out_of_range):
        context.device_for_replica(2)
    with pytest.raises(ValueError, match=r"host_id must be an integer in \[0, 1\) \(num_hosts=1\); received host_id=1"):
        context.tpu_host_placement_function(1)
    with pytest.raises(ValueError, match=r"at least one replica device"):
        TPUContext(replica_devices=[], mode="train", global_batch_size=None, per_replica_batch_size=None,
                   from_input_fn=True)


def test_hosts_come_from_the_replica_devices():
    devices = [f"/job:worker/replica:0/task:{task}/device:TPU:{core}" for task in range(2) for core in range(4)]
    context = TPUContext(replica_devices=devices, mode="train", global_batch_size=64, per_replica_batch_size=8,
                         from_input_fn=False)
    assert (context.num_replicas, context.num_hosts, context.num_of_replicas_per_host) == (8, 2, 4)
    assert context.device_for_replica(5) == ("/job:worker/replica:0/task:1/device:CPU:0", 1)
    assert context.tpu_host_placement_function(host_id=1) == host_of(devices[4])
