"""The Estimator's checkpoint saver: no save at session creation when there is nothing new to save, and
graph.pbtxt formatted off the path to the first step.

TensorFlow's `CheckpointSaverHook.after_create_session` writes graph.pbtxt and the meta graph, then saves
a checkpoint of the step the session starts at. After a restore that checkpoint is already on disk: the
save rewrites it, which on a restart after a full disk fails before the first step (it needs room for a
second copy while it writes), and on every preemption retry re-uploads a whole checkpoint to a bucket.

`ResumingCheckpointSaverHook` skips exactly that save when the newest complete checkpoint in its directory
is at the session's starting step. Everything else stays: graph.pbtxt and the graph summaries are written
as before, the saver's listeners still get `before_save`/`after_save` for that step (the checkpoint of the
step exists; `CheckpointMirrorListener` uses the call to upload it if a killed attempt had not), and the
periodic timer starts from that step, so `end()` saves only when training moved on, and the saver still
counts that checkpoint for `keep_checkpoint_max`, so it is collected as if it had been saved again.

graph.pbtxt is the training graph in protobuf text format. The formatting is pure Python (about 35 ms for the
300 KB graph of a small model whose data sits in the graph as constants, the same on TF 2.15), and TensorFlow
does it before the step-0 checkpoint and the first step. Here a thread writes it while those run (the
checkpoint's writes and the first step's kernels release the GIL), and the saver waits for it after the
first step and at the end, so the file is on disk once the first step has run, as it was before. The event
file's graph and meta graph are written in the foreground, as TensorFlow does.
"""

from __future__ import annotations

import logging
import threading

import tensorflow as tf
from tensorflow.python.framework import meta_graph

from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint

_log = logging.getLogger("estimator_lib")


def newest_checkpoint(model_dir: str) -> str | None:
    """The newest checkpoint prefix in `model_dir` whose files are all there and whose index opens."""
    return find_restorable_checkpoint(model_dir, read_tensors=False)


class GraphTextWriter:
    """Writes a GraphDef as `directory`/graph.pbtxt on a thread; `wait()` joins it and logs a failure.

    The file is written whole or not at all (TensorFlow writes a temporary file and renames it). A failure is
    logged, not raised: graph.pbtxt is for people reading the graph, and the checkpoint written next to it
    reports a directory that cannot be written to on its own.
    """

    FILENAME = "graph.pbtxt"

    def __init__(self, graph_def, directory: str):
        self._directory = directory
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._write, args=(graph_def,), name="graph.pbtxt writer")
        self._thread.start()

    def _write(self, graph_def) -> None:
        try:
            tf.io.write_graph(graph_def, self._directory, self.FILENAME, as_text=True)
        except Exception as error:  # reported by wait(), in the training thread
            self._error = error

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            _log.warning("Could not write %s in %s: %s", self.FILENAME, self._directory, self._error)
            self._error = None


class ResumingCheckpointSaverHook(tf.compat.v1.train.CheckpointSaverHook):
    """A `CheckpointSaverHook` that does not rewrite the checkpoint it resumed from, and writes graph.pbtxt on a
    thread (module docstring)."""

    _creating_session = False
    _graph_text: GraphTextWriter | None = None

    def after_create_session(self, session, coord):
        # TensorFlow's CheckpointSaverHook.after_create_session, with graph.pbtxt handed to a thread.
        step = session.run(self._global_step_tensor)
        graph = tf.compat.v1.get_default_graph()
        graph_def = graph.as_graph_def(add_shapes=True)
        saver = self._get_saver()
        meta = meta_graph.create_meta_graph_def(graph_def=graph_def, saver_def=saver.saver_def if saver else None)
        if self._save_graph_def:
            self._wait_for_graph_text()  # a session created again (recovery) starts a second writer
            self._graph_text = GraphTextWriter(graph_def, self._checkpoint_dir)
        self._summary_writer.add_graph(graph)
        self._summary_writer.add_meta_graph(meta)
        self._creating_session = True
        try:
            self._save(session, step)
        finally:
            self._creating_session = False
        self._timer.update_last_triggered_step(step)

    def after_run(self, run_context, run_values):
        self._wait_for_graph_text()
        super().after_run(run_context, run_values)

    def end(self, session):
        self._wait_for_graph_text()
        super().end(session)

    def _wait_for_graph_text(self) -> None:
        if self._graph_text is not None:
            self._graph_text.wait()
            self._graph_text = None

    def _save(self, session, step):
        prefix = newest_checkpoint(self._checkpoint_dir) if self._creating_session else None
        if prefix is None or checkpoint_step(prefix) != int(step):
            return super()._save(session, step)
        _log.info("The checkpoint of step %d is already in %s; not saving it again.", step, self._checkpoint_dir)
        saver = self._get_saver()
        if saver is not None and prefix not in saver.last_checkpoints:
            # The saver collects old checkpoints (keep_checkpoint_max) from the list its saves build; the
            # skipped save would have put this one there.
            saver.recover_last_checkpoints([*saver.last_checkpoints, prefix])
        for listener in self._listeners:
            listener.before_save(session, step)
        for listener in self._listeners:
            listener.after_save(session, step)
        return False
