"""Path (c): Keras `fit` with `steps_per_execution=K`, the same forward function and weights."""

from __future__ import annotations

import os
import time
from typing import Any

from bench import measure, models
from bench.options import RunOptions
from bench.timing import CallClock


def _build(cfg: models.ModelConfig, k: int) -> Any:
    import keras

    class BenchModel(keras.Model):
        """Holds the shared weights and calls `models.forward`."""

        def __init__(self) -> None:
            super().__init__()
            self.bench_weights = {}
            for name, value in models.initial_values(cfg).items():
                var = self.add_weight(shape=value.shape, initializer="zeros", name=name.replace("/", "_"))
                var.assign(value)
                self.bench_weights[name] = var

        def call(self, inputs: Any, training: bool = False) -> Any:
            return models.forward({n: v.value for n, v in self.bench_weights.items()}, inputs["x"], cfg)

    model = BenchModel()
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=cfg.learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        steps_per_execution=k,
        jit_compile=False,
    )
    return model


def _callback(clock: CallClock) -> Any:
    import keras

    class ClockCallback(keras.callbacks.Callback):
        """Notes the end of every execution (K steps) and stops once the window is measured."""

        def __init__(self) -> None:
            super().__init__()
            self.predict_ends: list = []

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            if clock.record():
                self.model.stop_training = True

        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            self.predict_ends.append(time.perf_counter())

    return ClockCallback()


def run(cfg: models.ModelConfig, k: int, opts: RunOptions, workdir: str) -> dict[str, Any]:
    """Trains through fit, then (with opts.extras) the K-independent figures."""
    import keras
    import tensorflow as tf

    clock = CallClock(opts.window, k, cfg.batch_size)
    callback = _callback(clock)
    clock.begin()
    model = _build(cfg, k)
    history = model.fit(models.make_dataset(cfg), epochs=1, steps_per_epoch=10**9, verbose=0, callbacks=[callback])
    out: dict[str, Any] = dict(clock.summary(), train_total_s=time.perf_counter() - clock.start)
    out.update(final_step=int(model.optimizer.iterations.numpy()), final_loss=float(history.history["loss"][-1]))
    out["steps_ok"] = out["final_step"] == len(clock.ends) * k

    path = os.path.join(workdir, "model.weights.h5")
    t0 = time.perf_counter()
    model.save_weights(path)
    seconds = time.perf_counter() - t0
    size = os.path.getsize(path)
    out.update(ckpt_bytes=size, ckpt_save_s=seconds, ckpt_mib_s=size / seconds / 2**20)
    if not opts.extras:
        return out

    eval_times = []
    for _ in range(opts.eval_calls):
        t0 = time.perf_counter()
        loss = model.evaluate(models.make_dataset(cfg), steps=opts.eval_batches, verbose=0)
        eval_times.append(time.perf_counter() - t0)
    out.update(eval_s=eval_times, eval_loss=float(loss))

    t0 = time.perf_counter()
    model.predict(
        models.make_dataset(cfg, with_labels=False, n_batches=opts.predict_batches), verbose=0, callbacks=[callback]
    )
    ends = callback.predict_ends
    out.update(
        predict_call_s=ends[-1] - t0,
        predict_first_s=ends[0] - t0,
        predict_ex_s=measure.steady_rate(ends, cfg.batch_size),
    )

    export_dir = os.path.join(workdir, "export")
    t0 = time.perf_counter()
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda x: _serve(model, x),
        input_signature=[tf.TensorSpec((None,) + cfg.input_shape, tf.float32, name="x")],
    )
    archive.write_out(export_dir, verbose=False)
    out["export_s"] = time.perf_counter() - t0
    out["export_bytes"] = measure.tree_bytes(export_dir)
    out.update(measure.signature_figures(export_dir, measure.predict_batches(cfg, opts.predict_batches)))
    return out


def _serve(model: Any, x: Any) -> dict[str, Any]:
    import tensorflow as tf

    logits = model({"x": x}, training=False)
    return {"logits": logits, "classes": tf.argmax(logits, -1, output_type=tf.int32)}
