"""The TPU graphs TPUEstimator builds, checked without a TPU.

TensorFlow's TPU strategy is given a resolver reporting 4 cores on this host (tpu_graph_testlib); train,
evaluate and predict build their real graphs and a hook keeps each graph before any session starts. The
checks: the step is one tpu.replicate over every core (inside the iterations_per_loop loop for training),
each core reads its own input, each gradient is summed across cores exactly once, and what goes to the
host (host_call, eval_metrics, predictions) leaves every core and is concatenated in core order.
"""

from __future__ import annotations

import pytest
import tensorflow as tf
from tpu_graph_testlib import (
    CaptureGraphHook,
    GraphCaptured,
    GraphIndex,
    fake_tpu_strategy,
    inputs_named,
)
from tpu_testlib import (
    eval_input_fn,
    logits_of,
    loss_of,
    metric_fn,
    train_input_fn,
    train_op_for,
)

from estimator_lib import _graph
from estimator_lib.tpu import RunConfig, TPUConfig, TPUEstimator, TPUEstimatorSpec

v1 = tf.compat.v1
CORES = 4
TRAINABLE = 2  # w and b in tpu_testlib.logits_of


def _host_call(global_step, loss):
    return [tf.reduce_sum(loss), tf.reduce_max(global_step)]


def model_fn(features, labels, mode, params):
    logits = logits_of(features)
    if mode == "infer":
        return TPUEstimatorSpec(mode, predictions={"logits": logits, "id": features["id"]})
    loss = loss_of(labels, logits)
    host_call = (_host_call, [tf.reshape(v1.train.get_global_step(), [1]), tf.reshape(loss, [1])])
    if mode == "eval":
        return TPUEstimatorSpec(mode, loss=loss, eval_metrics=(metric_fn, [labels, logits]), host_call=host_call)
    return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss), host_call=host_call)


def _estimator(model_dir, iterations_per_loop=3, fn=model_fn) -> TPUEstimator:
    config = RunConfig(
        model_dir=str(model_dir),
        train_distribute=fake_tpu_strategy(CORES),
        tpu_config=TPUConfig(iterations_per_loop=iterations_per_loop),
        save_summary_steps=0,
    )
    return TPUEstimator(fn, config=config, use_tpu=True, train_batch_size=16, eval_batch_size=16, predict_batch_size=16)


def _capture(call) -> GraphIndex:
    hook = CaptureGraphHook()
    with pytest.raises(GraphCaptured):
        call(hook)
    return GraphIndex(hook.graph_def)


@pytest.fixture
def tpu_system_calls(monkeypatch) -> list:
    """Records TPU system initialise/shutdown calls instead of running them (there is no TPU here)."""
    calls: list = []
    monkeypatch.setattr(_graph, "initialize_tpu_system", lambda target, config: calls.append(("init", target)))
    monkeypatch.setattr(_graph, "shutdown_tpu_system", lambda target, config: calls.append(("shutdown", target)))
    return calls


def _only_metadata(index: GraphIndex):
    found = index.of_type("TPUReplicateMetadata")
    assert len(found) == 1, f"expected one replicated computation, found {len(found)}"
    return found[0]


def _assert_gathered_in_core_order(index: GraphIndex, where: str, expected_concats: int) -> None:
    """Per-core outputs leave the TPU computation and each ConcatV2 joins cores 0..N-1 in that order."""
    per_core_outputs = index.of_type("TPUReplicatedOutput")
    assert all(node.attr["num_replicas"].i == CORES for _, node in per_core_outputs)
    concats = [
        node for place, node in index.of_type("ConcatV2") if place == where and "_tpu_replicate" not in node.attr
    ]
    assert len(concats) >= expected_concats
    for node in concats[:expected_concats]:
        sources = inputs_named(node)[:-1]  # the last input is the axis
        assert len(sources) == CORES
        shards = [name.rsplit("_shard_", 1) for name in sources]
        assert all(len(parts) == 2 for parts in shards), sources
        assert len({prefix for prefix, _ in shards}) == 1, f"{node.name} joins different outputs: {sources}"
        assert [int(core) for _, core in shards] == list(range(CORES)), f"{node.name} is not in core order: {sources}"


def test_training_replicates_the_step_over_every_core_inside_the_loop(tmp_path):
    index = _capture(lambda hook: _estimator(tmp_path).train(train_input_fn, max_steps=6, hooks=[hook]))

    where, metadata = _only_metadata(index)
    assert metadata.attr["num_replicas"].i == CORES
    loops = [node for _, node in index.of_type("While") if node.name == "iterations_per_loop"]
    assert len(loops) == 1 and loops[0].attr["body"].func.name == where, "the replicated step is not in the loop body"

    # One input shard per core: every per-core input joins CORES different tensors, the data ones from one
    # iterator read per core, placed on that core.
    replicated_inputs = [node for place, node in index.of_type("TPUReplicatedInput") if place == where]
    assert replicated_inputs and all(node.attr["N"].i == CORES for node in replicated_inputs)
    reads = {node.name: node for place, node in index.of_type("IteratorGetNext") if place == where}
    assert sorted(node.device[-5:] for node in reads.values()) == [f"TPU:{i}" for i in range(CORES)]
    data_inputs = [node for node in replicated_inputs if set(inputs_named(node)) <= set(reads)]
    assert data_inputs, "no per-core input comes from the iterator"
    for node in data_inputs:
        assert len(set(inputs_named(node))) == CORES

    # Gradients: one CrossReplicaSum per trainable variable, and each variable update reads one of them.
    sums = {node.name for place, node in index.of_type("CrossReplicaSum") if place == where}
    assert len(sums) == TRAINABLE
    updates = [node for place, node in index.nodes if node.op == "ResourceApplyGradientDescent" and place == where]
    assert len(updates) == TRAINABLE
    assert sorted(inputs_named(node)[2] for node in updates) == sorted(sums)

    # host_call: its two tensors leave every core and are concatenated in core order in the loop body.
    _assert_gathered_in_core_order(index, where, expected_concats=2)
    # ...and each step queues them for the host function in one queue on the host CPU (the original's outfeed),
    # enqueued in the loop body outside the TPU computation.
    queues = [node for place, node in index.of_type("FIFOQueueV2") if place == ""]
    assert len(queues) == 1 and queues[0].device.endswith("device:CPU:0")
    enqueues = [node for _, node in index.of_type("QueueEnqueueV2")]
    assert len(enqueues) == 1 and "_tpu_replicate" not in enqueues[0].attr
    assert enqueues[0].device.endswith("device:CPU:0")
    assert [place for place, node in index.nodes if node is enqueues[0]] == [where]
    # The host function (the Sum and Max in _host_call) reads the dequeued tensors, outside the TPU computation.
    top_level = {node.name: node for place, node in index.nodes if place == ""}
    host_fn_ops = [node for node in top_level.values() if node.op in ("Sum", "Max")
                   and any(top_level[name].op == "QueueDequeueV2" for name in inputs_named(node) if name in top_level)]
    assert len(host_fn_ops) == 2 and all("_tpu_replicate" not in node.attr for node in host_fn_ops)


def test_evaluation_replicates_the_step_and_runs_metric_fn_on_the_host(tmp_path):
    index = _capture(lambda hook: _estimator(tmp_path).evaluate(eval_input_fn, steps=2, hooks=[hook]))

    where, metadata = _only_metadata(index)
    assert metadata.attr["num_replicas"].i == CORES
    assert not index.of_type("CrossReplicaSum")
    # eval_metrics (labels, logits) and host_call (global step, loss): four gathered tensors.
    _assert_gathered_in_core_order(index, where, expected_concats=4)
    # metric_fn (v1 precision) and the loss mean's value are computed on the host, outside the TPU computation.
    host_metric_ops = [
        node for place, node in index.nodes
        if place == where and node.name.startswith("precision") and "_tpu_replicate" not in node.attr
    ]
    assert host_metric_ops
    assert not [node for _, node in index.nodes if node.name.startswith("precision") and "_tpu_replicate" in node.attr]


def test_prediction_gathers_every_core_in_order_and_initialises_the_tpu_first(tmp_path, tpu_system_calls):
    def predict(hook):
        next(_estimator(tmp_path).predict(eval_input_fn, hooks=[hook]))

    index = _capture(predict)
    where, metadata = _only_metadata(index)
    assert metadata.attr["num_replicas"].i == CORES
    # logits, ids and the padding mask come back from every core and are joined in core order.
    _assert_gathered_in_core_order(index, where, expected_concats=3)
    # Estimator.predict opens its session without the strategy; the TPU system was still initialised
    # (target '' from the resolver, as on a TPU VM) before the session could restore anything.
    assert tpu_system_calls == [("init", "")]


def test_a_host_only_op_in_model_fn_is_refused_with_the_fix(tmp_path):
    def summarising_model_fn(features, labels, mode, params):
        logits = logits_of(features)
        loss = loss_of(labels, logits)
        v1.summary.scalar("my_loss", loss)
        return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss))

    refused = r"cannot run on a TPU core: my_loss \(ScalarSummary\).*host_call.*outside_compilation"
    with pytest.raises(ValueError, match=refused):
        _estimator(tmp_path, fn=summarising_model_fn).train(train_input_fn, max_steps=3)


def test_a_host_only_op_under_outside_compilation_is_accepted(tmp_path):
    def summarising_model_fn(features, labels, mode, params):
        logits = logits_of(features)
        loss = loss_of(labels, logits)
        v1.tpu.outside_compilation(lambda value: v1.summary.scalar("my_loss", value), loss)
        return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss))

    index = _capture(lambda hook: _estimator(tmp_path, fn=summarising_model_fn).train(
        train_input_fn, max_steps=3, hooks=[hook]))
    summaries = [node for _, node in index.of_type("ScalarSummary") if node.name.endswith("my_loss")]
    assert len(summaries) == 1 and "_xla_outside_compilation" in summaries[0].attr


def _checkpoint_with_w(directory) -> str:
    with tf.Graph().as_default():
        v1.get_variable("w", [6, 3], initializer=v1.ones_initializer())
        with v1.Session() as session:
            session.run(v1.global_variables_initializer())
            return v1.train.Saver().save(session, str(directory / "init.ckpt"))


@pytest.mark.parametrize("iterations_per_loop", [1, 3])
def test_init_from_checkpoint_in_model_fn_on_a_tpu_is_refused_with_the_fix(tmp_path, iterations_per_loop):
    checkpoint = _checkpoint_with_w(tmp_path / "init")

    def initialising_model_fn(features, labels, mode, params):
        logits = logits_of(features)
        v1.train.init_from_checkpoint(checkpoint, {"w": "w"})
        loss = loss_of(labels, logits)
        return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss))

    estimator = _estimator(tmp_path / "model", iterations_per_loop, fn=initialising_model_fn)
    refused = r"initialiser of variable w:0 was built inside the TPU computation.*scaffold_fn"
    with pytest.raises(ValueError, match=refused):
        estimator.train(train_input_fn, max_steps=3)


def test_scaffold_fn_runs_on_the_host_outside_the_loop_and_the_tpu_computation(tmp_path):
    checkpoint = _checkpoint_with_w(tmp_path / "init")

    def model_fn_with_scaffold(features, labels, mode, params):
        logits = logits_of(features)
        loss = loss_of(labels, logits)

        def scaffold_fn():
            v1.train.init_from_checkpoint(checkpoint, {"w": "w"})
            return v1.train.Scaffold()

        return TPUEstimatorSpec(mode, loss=loss, train_op=train_op_for(loss), scaffold_fn=scaffold_fn)

    index = _capture(lambda hook: _estimator(tmp_path / "model", fn=model_fn_with_scaffold).train(
        train_input_fn, max_steps=3, hooks=[hook]))
    _only_metadata(index)
    restores = [(place, node) for place, node in index.of_type("RestoreV2") if "checkpoint_initializer" in node.name]
    assert restores and all(place == "" and "_tpu_replicate" not in node.attr for place, node in restores)


@pytest.mark.parametrize(("wrapper", "sums_per_variable"), [("estimator_lib", 1), ("tensorflow", 2)])
def test_cross_shard_optimizer_on_the_tpu_path(tmp_path, wrapper, sums_per_variable):
    """estimator_lib's CrossShardOptimizer keeps one cross-replica sum per variable on the TPU path;
    TensorFlow's own adds a second one (the numbers stay the mean, see docs/tpu.md)."""
    from estimator_lib.tpu import CrossShardOptimizer

    wrap = CrossShardOptimizer if wrapper == "estimator_lib" else v1.tpu.CrossShardOptimizer

    def wrapped_model_fn(features, labels, mode, params):
        loss = loss_of(labels, logits_of(features))
        optimizer = wrap(v1.train.GradientDescentOptimizer(0.5))
        return TPUEstimatorSpec(mode, loss=loss, train_op=optimizer.minimize(loss, v1.train.get_global_step()))

    index = _capture(lambda hook: _estimator(tmp_path, fn=wrapped_model_fn).train(
        train_input_fn, max_steps=3, hooks=[hook]))
    sums = {node.name: node for _, node in index.of_type("CrossReplicaSum")}
    assert len(sums) == TRAINABLE * sums_per_variable
    updates = [node for _, node in index.nodes if node.op == "ResourceApplyGradientDescent"]
    assert len(updates) == TRAINABLE and all(inputs_named(node)[2] in sums for node in updates)
