"""The Estimator's checkpoint saver, without the save at session creation when there is nothing new to save.

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
"""

from __future__ import annotations

import logging

import tensorflow as tf

from estimator_lib.storage.checkpoint_scan import checkpoint_step, find_restorable_checkpoint

_log = logging.getLogger("estimator_lib")


def newest_checkpoint(model_dir: str) -> str | None:
    """The newest checkpoint prefix in `model_dir` whose files are all there and whose index opens."""
    return find_restorable_checkpoint(model_dir, read_tensors=False)


class ResumingCheckpointSaverHook(tf.compat.v1.train.CheckpointSaverHook):
    """A `CheckpointSaverHook` that does not rewrite the checkpoint it resumed from (module docstring)."""

    _creating_session = False

    def after_create_session(self, session, coord):
        self._creating_session = True
        try:
            super().after_create_session(session, coord)
        finally:
            self._creating_session = False

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
