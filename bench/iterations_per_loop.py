"""Steps/sec of one TPUEstimator model_fn with iterations_per_loop 1, 10 and 100, on one replica and
on two virtual CPU replicas (tf.distribute MirroredStrategy), with the ratio to K=1.

    python -m bench.iterations_per_loop [--steps 600] [--repeats 3] [--loops 1,10,100] [--replicas 1,2]

Each run trains a fresh model. The first loop (K steps, graph warm-up) is not timed; the window runs
from the end of that loop to the end of the last one, so graph building, session start and the final
checkpoint are outside it. Wall-clock and process CPU time are both reported; the best of `repeats`
runs is kept (other work on a shared machine only ever slows a run down).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1
FEATURES, HIDDEN, CLASSES, BATCH = 32, 64, 10, 64


def _configure_devices(count: int) -> None:
    cpus = tf.config.list_physical_devices("CPU")
    # RuntimeError: already initialised (imported from a test); keep what exists.
    with contextlib.suppress(RuntimeError):
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * count)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1024, FEATURES)).astype(np.float32)
    return x, np.argmax(x[:, :CLASSES], axis=1).astype(np.int32)


def input_fn(params):
    x, y = _data()
    return tf.data.Dataset.from_tensor_slices(({"x": x}, y)).repeat().batch(params["batch_size"], drop_remainder=True)


def model_fn(features, labels, mode, params):
    """A two-layer MLP: small steps, so the per-session.run overhead that K removes is visible."""
    from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

    hidden = tf.nn.relu(tf.matmul(features["x"], v1.get_variable("w1", [FEATURES, HIDDEN])))
    logits = tf.matmul(hidden, v1.get_variable("w2", [HIDDEN, CLASSES]))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=v1.train.get_global_step())
    return TPUEstimatorSpec(mode=mode, loss=loss, train_op=train_op)


class _Window(v1.train.SessionRunHook):
    """Times from the end of the first session.run (warm-up loop) to the end of the last one."""

    def __init__(self):
        self.runs = 0
        self.first = self.last = None

    def after_run(self, run_context, run_values):
        self.runs += 1
        now = (time.perf_counter(), time.process_time())
        if self.runs == 1:
            self.first = now
        self.last = now


class Result(NamedTuple):
    replicas: int
    loop: int
    steps: int
    runs: int
    wall_steps_per_sec: float
    cpu_steps_per_sec: float


def run_once(replicas: int, loop: int, steps: int) -> Result:
    from estimator_lib.tpu.tpu_config import RunConfig, TPUConfig
    from estimator_lib.tpu.tpu_estimator import TPUEstimator

    strategy = None
    if replicas > 1:
        strategy = v1.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(replicas)])
    with tempfile.TemporaryDirectory() as model_dir:
        config = RunConfig(
            model_dir=model_dir,
            tf_random_seed=1,
            train_distribute=strategy,
            save_checkpoints_steps=10**9,
            save_summary_steps=0,
            log_step_count_steps=0,
            tpu_config=TPUConfig(iterations_per_loop=loop),
        )
        estimator = TPUEstimator(model_fn=model_fn, config=config, use_tpu=replicas > 1, train_batch_size=BATCH)
        window = _Window()
        estimator.train(input_fn, max_steps=loop + steps, hooks=[window])
    timed_steps = steps
    wall = window.last[0] - window.first[0]
    cpu = window.last[1] - window.first[1]
    return Result(replicas, loop, timed_steps, window.runs - 1, timed_steps / wall, timed_steps / max(cpu, 1e-9))


def _ints(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers; received {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers; received {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.iterations_per_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="timed steps per run (a multiple of every loop)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per setting; the best is reported")
    parser.add_argument("--loops", type=_ints, default=[1, 10, 100], help="iterations_per_loop values")
    parser.add_argument("--replicas", type=_ints, default=[1, 2], help="replica counts (virtual CPUs)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error(f"--steps and --repeats must be positive; received --steps={args.steps} --repeats={args.repeats}")
    bad = [loop for loop in args.loops if args.steps % loop]
    if bad:
        parser.error(f"--steps={args.steps} must be a multiple of every --loops value; not of {bad}")
    _configure_devices(max(max(args.replicas), 2))
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        _report(args)
    finally:
        logger.setLevel(level)
    return 0


def _report(args: argparse.Namespace) -> None:
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores; MLP {FEATURES}-{HIDDEN}-{CLASSES}, "
          f"global batch {BATCH}, {args.steps} timed steps, best of {args.repeats}")
    print(f"{'replicas':>8} {'K':>5} {'runs':>5} {'steps/s wall':>13} {'x K=1':>7} {'steps/s CPU':>12} {'x K=1':>7}")
    for replicas in args.replicas:
        base = None
        for loop in args.loops:
            results = [run_once(replicas, loop, args.steps) for _ in range(args.repeats)]
            best = max(results, key=lambda r: r.wall_steps_per_sec)
            best_cpu = max(r.cpu_steps_per_sec for r in results)
            if base is None:
                base = (best.wall_steps_per_sec, best_cpu)
            print(f"{replicas:>8} {loop:>5} {best.runs:>5} {best.wall_steps_per_sec:>13.1f} "
                  f"{best.wall_steps_per_sec / base[0]:>7.2f} {best_cpu:>12.1f} {best_cpu / base[1]:>7.2f}",
                  flush=True)


if __name__ == "__main__":
    sys.exit(main())
