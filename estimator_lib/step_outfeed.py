"""Every step's host-bound outputs from inside the iterations_per_loop loop, one queue element per step.

tf.estimator's TPUEstimator enqueued the `host_call` tensors to the TPU outfeed on every step of its
on-device loop, and a host thread dequeued them and ran `host_call` once per step (tensorflow/estimator
r2.15 tpu_estimator.py: `_OutfeedHostCall.create_enqueue_op`, `TPUInfeedOutfeedSessionHook._run_outfeed`);
off the TPU it ran one step per `session.run` with `host_call` in each. Here the loop is a host-side
`while_loop` on every strategy, so each step puts its gathered tensors into a FIFO queue on the host CPU,
and the `host_call` hook takes them out and runs `host_call` once per step after the loop's run.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

# iterations_per_loop given as a duration is sized at run time, up to this many steps (mode_plan's
# LoopDurationHook clips to this bound), so the queue never fills during one loop.
MAX_STEPS_PER_LOOP = 1_000_000


class StepOutfeed:
    """A host-side FIFO queue holding one element (the structure `template`) per enqueued step."""

    def __init__(self, template: Any, *, capacity: int, device: str | None):
        """Made under `tf.init_scope()`, so the queue lives in the session's graph even when the first step
        is traced inside the loop body (a function graph)."""
        flat = tf.nest.flatten(template)
        self.size_after_loop: tf.Tensor | None = None  # set by set_loop_result
        with tf.init_scope(), tf.device(device), tf.name_scope("host_call_outfeed"):
            self._queue = tf.queue.FIFOQueue(capacity, [tensor.dtype for tensor in flat], name="queue")
            self.size = self._queue.size()  # for draining what a failed run left behind
            dequeued = self._queue.dequeue()
            dequeued = [dequeued] if isinstance(dequeued, tf.Tensor) else list(dequeued)
            for tensor, original in zip(dequeued, flat, strict=True):
                tensor.set_shape(original.shape)
            self.dequeued = tf.nest.pack_sequence_as(template, dequeued)
            self.discard = tf.group(*dequeued)  # takes one element off without using it

    def enqueue(self, values: Any) -> tf.Operation:
        """The op that puts one step's values in the queue (call it in the loop body)."""
        return self._queue.enqueue(tf.nest.flatten(values))

    def set_loop_result(self, loop_result: tf.Tensor) -> None:
        """`size_after_loop` (fetched with the training run) reads the queue once the loop has finished."""
        with tf.control_dependencies([loop_result]):
            self.size_after_loop = self._queue.size()
