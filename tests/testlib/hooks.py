"""Hooks that record what the training loop did, for tests to compare with what it should have done."""

from __future__ import annotations

import collections

import tensorflow as tf

from estimator_lib.hooks import SessionRunHook


class RecordingHook(SessionRunHook):
    """Counts every hook call, so tests can check which hooks ran and how often."""

    def __init__(self):
        self.calls: collections.Counter = collections.Counter()

    def begin(self):
        self.calls["begin"] += 1

    def after_create_session(self, session, coord):
        self.calls["after_create_session"] += 1

    def before_run(self, run_context):
        self.calls["before_run"] += 1

    def after_run(self, run_context, run_values):
        self.calls["after_run"] += 1

    def end(self, session):
        self.calls["end"] += 1


class StepRecorder(SessionRunHook):
    """Counts session.run calls and records the global step after each one."""

    def __init__(self):
        self.runs = 0
        self.steps_after: list[int] = []
        self._global_step = None

    def begin(self):
        self._global_step = tf.compat.v1.train.get_global_step()

    def after_run(self, run_context, run_values):
        self.runs += 1
        self.steps_after.append(int(run_context.session.run(self._global_step)))


class GraphSpy(SessionRunHook):
    """Keeps the op types and names of the session's graph, as the session saw it once created."""

    def __init__(self):
        self.op_types: set[str] = set()
        self.op_names: list[str] = []

    def after_create_session(self, session, coord):
        self.op_types = {op.type for op in session.graph.get_operations()}
        self.op_names = [op.name for op in session.graph.get_operations()]
