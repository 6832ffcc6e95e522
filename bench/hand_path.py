"""Path (b): the hand-written TF2 loop, K steps per `tf.function` call through `strategy.run`.

This is the practical lower bound for per-step overhead on TF2 without XLA: one function call
runs a `tf.range` loop whose body is the replica step, so Python is entered once per K steps.
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench import measure, models
from bench.options import RunOptions
from bench.timing import CallClock


def _build(cfg: models.ModelConfig, k: int) -> Any:
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()

    class Trainer(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            with strategy.scope():
                self.weights = {
                    n: tf.Variable(v, name=n.replace("/", "_")) for n, v in models.initial_values(cfg).items()
                }
                self.step = tf.Variable(0, dtype=tf.int64, name="global_step")

        def replica_step(self, features: Any, labels: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = models.loss_fn(models.forward(self.weights, features["x"], cfg), labels)
            names = list(self.weights)
            grads = tape.gradient(loss, [self.weights[n] for n in names])
            for n, g in zip(names, grads, strict=True):
                self.weights[n].assign_sub(cfg.learning_rate * g)
            self.step.assign_add(1)
            return loss

        @tf.function
        def train_k(self, iterator: Any) -> Any:
            loss = tf.constant(0.0)
            for _ in tf.range(k):
                features, labels = next(iterator)
                per_replica = strategy.run(self.replica_step, args=(features, labels))
                loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica, axis=None)
            return loss

        @tf.function
        def evaluate(self, iterator: Any, n: Any) -> Any:
            correct = tf.constant(0, tf.int64)
            total_loss = tf.constant(0.0)
            for _ in tf.range(n):
                features, labels = next(iterator)
                logits = models.forward(self.weights, features["x"], cfg)
                total_loss += models.loss_fn(logits, labels)
                hits = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
                correct += tf.reduce_sum(tf.cast(hits, tf.int64))
            return total_loss / tf.cast(n, tf.float32), correct

        @tf.function(input_signature=[tf.TensorSpec((None,) + cfg.input_shape, tf.float32, name="x")])
        def serve(self, x: Any) -> dict[str, Any]:
            logits = models.forward(self.weights, x, cfg)
            return {"logits": logits, "classes": tf.argmax(logits, -1, output_type=tf.int32)}

    return strategy, Trainer()


def run(cfg: models.ModelConfig, k: int, opts: RunOptions, workdir: str) -> dict[str, Any]:
    """Trains with K steps a call, then (with opts.extras) the K-independent figures."""
    import tensorflow as tf

    clock = CallClock(opts.window, k, cfg.batch_size)
    clock.begin()
    strategy, trainer = _build(cfg, k)
    iterator = iter(strategy.experimental_distribute_dataset(models.make_dataset(cfg)))
    while True:
        loss = float(trainer.train_k(iterator))
        if clock.record():
            break
    out: dict[str, Any] = dict(clock.summary(), train_total_s=time.perf_counter() - clock.start)
    out.update(final_step=int(trainer.step.numpy()), final_loss=loss)
    out["steps_ok"] = out["final_step"] == len(clock.ends) * k

    ckpt = tf.train.Checkpoint(step=trainer.step, **{n.replace("/", "_"): v for n, v in trainer.weights.items()})
    prefix = os.path.join(workdir, "ckpt", "model")
    t0 = time.perf_counter()
    path = ckpt.write(prefix)
    seconds = time.perf_counter() - t0
    size = measure.files_bytes(os.path.join(os.path.dirname(prefix), f) for f in os.listdir(os.path.dirname(prefix)))
    out.update(ckpt_bytes=size, ckpt_save_s=seconds, ckpt_mib_s=size / seconds / 2**20, ckpt_path=path)
    if not opts.extras:
        return out

    eval_times = []
    n_eval = tf.constant(opts.eval_batches)
    for _ in range(opts.eval_calls):
        t0 = time.perf_counter()
        eval_iter = iter(strategy.experimental_distribute_dataset(models.make_dataset(cfg)))
        mean_loss, correct = trainer.evaluate(eval_iter, n_eval)
        float(mean_loss)
        eval_times.append(time.perf_counter() - t0)
    out.update(
        eval_s=eval_times,
        eval_accuracy=int(correct) / (opts.eval_batches * cfg.batch_size),
        eval_loss=float(mean_loss),
    )

    predict_fn = tf.function(lambda features: trainer.serve(features["x"]))
    t0 = time.perf_counter()
    ends = []
    for features in models.make_dataset(cfg, with_labels=False, n_batches=opts.predict_batches):
        result = predict_fn(features)
        result["classes"].numpy()
        ends.append(time.perf_counter())
    out.update(
        predict_call_s=ends[-1] - t0,
        predict_first_s=ends[0] - t0,
        predict_ex_s=measure.steady_rate(ends, cfg.batch_size),
    )

    export_dir = os.path.join(workdir, "export")
    t0 = time.perf_counter()
    tf.saved_model.save(trainer, export_dir, signatures={"serving_default": trainer.serve})
    out["export_s"] = time.perf_counter() - t0
    out["export_bytes"] = measure.tree_bytes(export_dir)
    out.update(measure.signature_figures(export_dir, measure.predict_batches(cfg, opts.predict_batches)))
    return out
