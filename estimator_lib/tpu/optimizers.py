"""`CrossShardOptimizer` that reduces gradients across replicas exactly once, on every strategy.

TF's `tf.compat.v1.tpu.CrossShardOptimizer` sums gradients with `cross_replica_sum`, an op that only
exists inside a TPU replicate context: on CPUs or GPUs it fails (InvalidArgumentError), and under a
tf.distribute strategy the wrapped v1 optimizer already all-reduces in `apply_gradients`, so the sum
would be taken twice. BERT, mnist_tpu and ResNet wrap their optimizer whenever `use_tpu=True`; this
class keeps that line working:

* in a tf.distribute replica context (TPUStrategy, MirroredStrategy): the inner optimizer does the one
  all-reduce; TPUEstimator scales the loss by 1/replicas (mean), and reduction=SUM undoes that scaling;
* inside a bare TPU shard context (`tpu.replicate` without a strategy): TF's own CrossShardOptimizer;
* on one device: the inner optimizer, unchanged (one replica has nothing to reduce).
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

v1 = tf.compat.v1
_REDUCTIONS = (v1.losses.Reduction.MEAN, v1.losses.Reduction.SUM)


def _replicas_in_strategy() -> int:
    """Replicas of the strategy whose replica function is running now; 0 outside one."""
    if not tf.distribute.has_strategy() or tf.distribute.in_cross_replica_context():
        return 0
    return tf.distribute.get_strategy().num_replicas_in_sync


def _tpu_shards() -> int | None:
    """Shards of an enclosing `tpu.replicate` (TF keeps them on a private context); None outside one."""
    from tensorflow.python.tpu import tpu_function  # noqa: PLC0415 - TF has no public accessor

    return tpu_function.get_tpu_context().number_of_shards


class CrossShardOptimizer(v1.train.Optimizer):
    """Same constructor as `tf.compat.v1.tpu.CrossShardOptimizer`; see the module docstring for what it does."""

    def __init__(
        self,
        opt: v1.train.Optimizer,
        reduction: str = v1.losses.Reduction.MEAN,
        name: str = "CrossShardOptimizer",
        group_assignment: Any = None,
    ):
        if not isinstance(opt, v1.train.Optimizer):
            raise TypeError(
                f"CrossShardOptimizer wraps a tf.compat.v1.train.Optimizer; received {type(opt).__name__}. "
                "Keras optimizers reduce across replicas themselves: use them without this wrapper."
            )
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"reduction must be tf.compat.v1.losses.Reduction.MEAN or .SUM; received {reduction!r}."
            )
        super().__init__(use_locking=False, name=name)
        self._opt = opt
        self._reduction = reduction
        self._group_assignment = group_assignment
        self._tf_optimizer: Any = None

    def _tpu_shard_optimizer(self) -> Any:
        if self._tf_optimizer is None:
            self._tf_optimizer = v1.tpu.CrossShardOptimizer(
                self._opt, reduction=self._reduction, name=self.get_name(), group_assignment=self._group_assignment
            )
        return self._tf_optimizer

    def _check_no_groups(self) -> None:
        if self._group_assignment is not None:
            raise ValueError(
                "CrossShardOptimizer(group_assignment=...) sums over replica subgroups, which only a bare TPU "
                f"replicate context supports; under a tf.distribute strategy received group_assignment="
                f"{self._group_assignment!r}. Leave group_assignment=None."
            )

    def compute_gradients(self, loss, var_list=None, **kwargs):
        replicas = _replicas_in_strategy()
        if replicas:
            self._check_no_groups()
            grads_and_vars = self._opt.compute_gradients(loss, var_list=var_list, **kwargs)
            scaled = v1.distribute.get_loss_reduction() == tf.distribute.ReduceOp.MEAN and replicas > 1
            if self._reduction == v1.losses.Reduction.SUM and scaled:
                # The v1 optimizer scaled the loss by 1/replicas; a SUM of shard gradients undoes it.
                grads_and_vars = [(None if g is None else g * float(replicas), v) for g, v in grads_and_vars]
            return grads_and_vars
        if _tpu_shards():
            return self._tpu_shard_optimizer().compute_gradients(loss, var_list=var_list, **kwargs)
        return self._opt.compute_gradients(loss, var_list=var_list, **kwargs)

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        if not _replicas_in_strategy() and _tpu_shards():
            return self._tpu_shard_optimizer().apply_gradients(grads_and_vars, global_step, name)
        # Under a strategy the inner v1 optimizer all-reduces once; on one device there is nothing to reduce.
        return self._opt.apply_gradients(grads_and_vars, global_step, name)

    def get_slot(self, *args, **kwargs):
        return self._opt.get_slot(*args, **kwargs)

    def get_slot_names(self, *args, **kwargs):
        return self._opt.get_slot_names(*args, **kwargs)

    def variables(self):
        return self._opt.variables()
