"""Paths (a) and (d): an Estimator or TPUEstimator(use_tpu=False) from either library.

The same code drives estimator_lib on TF 2.21 and tensorflow-estimator on TF 2.15; only the
`api` namespace (from `bench.apis`) differs, so the two are measured identically.
"""

from __future__ import annotations

import glob
import os
import time
from typing import Any

from bench import measure, models
from bench.options import RunOptions
from bench.timing import CallClock

BIG = 10**9  # "never" for step-based schedules: checkpoints only at start and end


def _hook_classes() -> tuple[type, type]:
    import tensorflow as tf

    class ClockHook(tf.compat.v1.train.SessionRunHook):
        """Notes the end of every session.run and stops training once the window is measured."""

        def __init__(self, clock: CallClock) -> None:
            self.clock = clock

        def after_run(self, run_context: Any, run_values: Any) -> None:
            if self.clock.record():
                run_context.request_stop()

    class SaveTimer(tf.compat.v1.train.CheckpointSaverListener):
        """Times every checkpoint save (global step, seconds)."""

        def __init__(self) -> None:
            self.saves: list[tuple[int, float]] = []
            self._t0 = 0.0

        def before_save(self, session: Any, global_step_value: int) -> None:
            self._t0 = time.perf_counter()

        def after_save(self, session: Any, global_step_value: int) -> bool:
            self.saves.append((int(global_step_value), time.perf_counter() - self._t0))
            return False

    return ClockHook, SaveTimer


def _make_estimator(api: Any, cfg: models.ModelConfig, k: int, tpu: bool, model_dir: str, jit_compile: bool) -> Any:
    common: dict[str, Any] = dict(
        model_dir=model_dir,
        tf_random_seed=0,
        save_checkpoints_steps=BIG,
        save_summary_steps=100,
        log_step_count_steps=100,
    )
    if jit_compile:  # estimator_lib only: the original has no such switch
        common["jit_compile"] = True
    model_fn = models.make_model_fn(cfg, api, tpu=tpu)
    if not tpu:
        return api.Estimator(model_fn=model_fn, config=api.RunConfig(**common))
    config = api.TPURunConfig(tpu_config=api.TPUConfig(iterations_per_loop=k), **common)
    return api.TPUEstimator(
        model_fn=model_fn,
        config=config,
        use_tpu=False,
        train_batch_size=cfg.batch_size,
        eval_batch_size=cfg.batch_size,
        predict_batch_size=cfg.batch_size,
    )


def run(api: Any, cfg: models.ModelConfig, k: int, tpu: bool, opts: RunOptions, workdir: str,
        jit_compile: bool = False) -> dict[str, Any]:
    """Trains, then (with opts.extras) evaluates, checkpoints, exports and predicts; returns figures.

    Start-up figures come in wall seconds and in process CPU seconds (`*_cpu_s`): on a shared machine
    the CPU figure is the steadier of the two.
    """
    ClockHook, SaveTimer = _hook_classes()
    model_dir = os.path.join(workdir, "model")
    est = _make_estimator(api, cfg, k, tpu, model_dir, jit_compile)

    def train_input_fn(params: Any) -> Any:
        return models.make_dataset(cfg)

    def eval_input_fn(params: Any) -> Any:
        return models.make_dataset(cfg)

    def predict_input_fn(params: Any) -> Any:
        return models.make_dataset(cfg, with_labels=False, n_batches=opts.predict_batches)

    clock = CallClock(opts.window, k, cfg.batch_size)
    saver = SaveTimer()
    clock.begin()
    est.train(train_input_fn, max_steps=BIG, hooks=[ClockHook(clock)], saving_listeners=[saver])
    train_total = time.perf_counter() - clock.start
    final_step = int(est.get_variable_value("global_step"))
    calls = len(clock.ends)
    if final_step != calls * k and final_step % calls == 0:
        # The original TPUEstimator ignores iterations_per_loop off-TPU: count the steps it ran.
        clock.steps_per_call = final_step // calls
    out: dict[str, Any] = dict(clock.summary(), train_total_s=train_total)
    out.update(final_step=final_step, steps_ok=final_step == calls * k, steps_per_call=final_step / calls)
    if saver.saves:
        step, seconds = saver.saves[-1]
        size = measure.files_bytes(glob.glob(os.path.join(model_dir, f"model.ckpt-{step}.*")))
        out.update(ckpt_bytes=size, ckpt_save_s=seconds, ckpt_mib_s=size / seconds / 2**20)
    if not opts.extras:
        return out

    eval_times, eval_cpu = [], []
    for _ in range(opts.eval_calls):
        t0, c0 = time.perf_counter(), time.process_time()
        metrics = est.evaluate(eval_input_fn, steps=opts.eval_batches)
        eval_times.append(time.perf_counter() - t0)
        eval_cpu.append(time.process_time() - c0)
    out.update(eval_s=eval_times, eval_cpu_s=eval_cpu, eval_accuracy=float(metrics["accuracy"]),
               eval_loss=float(metrics["loss"]))

    t0, c0 = time.perf_counter(), time.process_time()
    ends = []
    for _ in est.predict(predict_input_fn, yield_single_examples=False):
        ends.append(time.perf_counter())
        if len(ends) == 1:
            first_cpu = time.process_time() - c0
    out.update(
        predict_call_s=ends[-1] - t0,
        predict_first_s=ends[0] - t0,
        predict_first_cpu_s=first_cpu,
        predict_ex_s=measure.steady_rate(ends, cfg.batch_size),
    )

    if not opts.export:
        return out
    t0 = time.perf_counter()
    export_dir = est.export_saved_model(
        os.path.join(workdir, "export"), models.serving_input_receiver_fn(cfg, api)
    )
    out["export_s"] = time.perf_counter() - t0
    if isinstance(export_dir, bytes):
        export_dir = export_dir.decode()
    out["export_bytes"] = measure.tree_bytes(export_dir)
    out.update(measure.signature_figures(export_dir, measure.predict_batches(cfg, opts.predict_batches)))
    return out
