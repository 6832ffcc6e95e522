"""Our monitored sessions run each fetch structure through a cached callable; hooks see what TF's would.

No timing here: these check that the faster run path gives hooks, feeds, options and fetches exactly the
behaviour of TensorFlow's own hooked session (docs/benchmarks.md has the figures).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tensorflow as tf
from est_testlib import linear_model_fn, make_input_fn

from estimator_lib import _graph
from estimator_lib.estimator import Estimator
from estimator_lib.hooks import NanLossDuringTrainingError, _all_finite
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1


def _counter_graph():
    graph = tf.Graph()
    with graph.as_default():
        step = v1.train.get_or_create_global_step()
        with tf.control_dependencies([v1.assign_add(step, 1).op]):
            after = tf.identity(step.read_value(), name="step_after")  # the "train op": increments, then reads
        doubled = tf.cast(after, tf.float32) * 2.0
        fed = v1.placeholder_with_default(tf.constant(1.0), [], name="fed")
    return graph, after, after, doubled, fed


class _ScriptedHook(v1.train.SessionRunHook):
    """Asks for a different fetch structure on each run, following `script`, and records what it got."""

    def __init__(self, script):
        self.script = script
        self.runs = 0
        self.seen = []

    def before_run(self, run_context):
        request = self.script[self.runs % len(self.script)]
        self.runs += 1
        return request() if callable(request) else request

    def after_run(self, run_context, run_values):
        self.seen.append((run_values.results, run_values.options, run_values.run_metadata))


def _session(graph, hooks):
    with graph.as_default():
        creator = v1.train.ChiefSessionCreator(config=_graph.static_graph_config(v1.ConfigProto()))
        return _graph._FastMonitoredSession(session_creator=creator, hooks=hooks)  # noqa: SLF001


def test_hooks_get_their_fetches_and_the_caller_gets_its_own():
    graph, step, increment, doubled, fed = _counter_graph()
    Pair = collections.namedtuple("Pair", "a b")
    hook = _ScriptedHook([
        v1.train.SessionRunArgs(doubled),
        None,
        v1.train.SessionRunArgs({"twice": doubled, "names": [step.name]}),  # a tensor given by name
        lambda: v1.train.SessionRunArgs(Pair(doubled, step)),  # a namedtuple: Session.run's path
    ])
    with _session(graph, [hook]) as session:
        callers = [session.run(increment) for _ in range(8)]
        cache = session._sess._sess._sess._callables  # noqa: SLF001 - recoverable > coordinated > hooked
    assert callers == list(range(1, 9))
    results = [seen[0] for seen in hook.seen]
    assert results[0] == 2.0 and results[1] is None
    assert results[2]["twice"] == 6.0 and results[2]["names"] == [3]
    assert tuple(results[3]) == (8.0, 4)
    assert results[4] == 10.0 and results[6]["twice"] == 14.0 and tuple(results[7]) == (16.0, 8)
    assert all(isinstance(s[1], v1.RunOptions) and isinstance(s[2], v1.RunMetadata) for s in hook.seen)
    assert len(cache) == 3  # train op alone, with the scalar, with the dict; the namedtuple run bypasses it


def test_feeds_and_trace_options_go_through_session_run():
    graph, step, increment, doubled, fed = _counter_graph()
    trace = v1.RunOptions(trace_level=v1.RunOptions.FULL_TRACE)
    hook = _ScriptedHook([
        v1.train.SessionRunArgs(fed, feed_dict={fed: 5.0}),
        v1.train.SessionRunArgs(fed, options=trace),
        v1.train.SessionRunArgs(fed),
        v1.train.SessionRunArgs(fed),
    ])
    with _session(graph, [hook]) as session:
        for _ in range(3):
            session.run(increment)
        assert session.run(fed, feed_dict={fed: 7.0}) == 7.0  # a caller's feed
    results = [seen[0] for seen in hook.seen]
    assert results == [5.0, 1.0, 1.0, 7.0]  # the caller's feed reaches the hook's fetch too
    traced = hook.seen[1]
    assert traced[1].trace_level == v1.RunOptions.FULL_TRACE and traced[2].step_stats.dev_stats


def test_two_hooks_feeding_the_same_tensor_are_refused_as_in_tensorflow():
    graph, step, increment, doubled, fed = _counter_graph()
    hooks = [_ScriptedHook([v1.train.SessionRunArgs(None, feed_dict={fed: 1.0})]) for _ in range(2)]
    with _session(graph, hooks) as session, pytest.raises(RuntimeError, match="Same tensor is fed by two hooks"):
        session.run(increment)


def test_callables_are_capped_per_session():
    graph = tf.Graph()
    with graph.as_default():
        step = v1.train.get_or_create_global_step()
        increment = v1.assign_add(step, 1).op
        with tf.control_dependencies([increment]):
            reads = [tf.identity(step.read_value()) for _ in range(_graph._MAX_CALLABLES + 4)]  # noqa: SLF001
    hook = _ScriptedHook([v1.train.SessionRunArgs(read) for read in reads])
    with _session(graph, [hook]) as session:
        for _ in reads:
            session.run(increment)
        cache = session._sess._sess._sess._callables  # noqa: SLF001
    assert len(cache) == _graph._MAX_CALLABLES  # noqa: SLF001
    assert [seen[0] for seen in hook.seen] == list(range(1, len(reads) + 1))


def test_stop_requests_end_the_session_loop():
    graph, step, increment, doubled, fed = _counter_graph()

    class StopAtThree(v1.train.SessionRunHook):
        def before_run(self, run_context):
            return v1.train.SessionRunArgs(step)

        def after_run(self, run_context, run_values):
            if run_values.results >= 3:
                run_context.request_stop()

    runs = 0
    with _session(graph, [StopAtThree()]) as session:
        while not session.should_stop():
            session.run(increment)
            runs += 1
        with pytest.raises(RuntimeError, match="Run called even after should_stop requested"):
            session.run(increment)
    assert runs == 3


def test_static_graph_config_copies_and_respects_an_explicit_opt_out():
    user = v1.ConfigProto(allow_soft_placement=True, inter_op_parallelism_threads=3)
    static = _graph.static_graph_config(user)
    assert static.experimental.optimize_for_static_graph and static.inter_op_parallelism_threads == 3
    assert not user.experimental.optimize_for_static_graph  # the user's proto is not changed
    user.experimental.disable_optimize_for_static_graph = True
    assert _graph.static_graph_config(user) is user


def test_all_finite_handles_scalars_arrays_and_integers():
    assert _all_finite(np.float32(1.5)) and _all_finite(2.0) and _all_finite(np.int64(3))
    assert not _all_finite(np.float32("nan")) and not _all_finite(float("inf"))
    assert _all_finite(np.ones([2, 2], np.float32)) and not _all_finite(np.array([1.0, np.inf]))


def test_nan_loss_still_stops_training_with_the_step(tmp_path):
    def model_fn(features, labels, mode, params):
        spec = linear_model_fn(features, labels, mode, params)
        step = v1.train.get_global_step()
        loss = tf.where(step >= 3, tf.constant(np.nan, tf.float32), spec.loss)
        return spec._replace(loss=loss)

    estimator = Estimator(model_fn, model_dir=str(tmp_path), config=RunConfig(log_step_count_steps=1))
    # model_fn's read of the step is not ordered against the train op's increment in the same run (as in
    # TensorFlow), so the first NaN comes from the run that ends at step 3 or the one that ends at step 4.
    with pytest.raises(NanLossDuringTrainingError, match=r"Loss is nan at global step [34]\b"):
        estimator.train(make_input_fn(), steps=10)
