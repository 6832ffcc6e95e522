"""What one `session.run` of the benchmark MLP costs, layer by layer, on this interpreter's TensorFlow.

    python -m bench.session_costs [--model mlp] [--runs 2000] [--rounds 5]
    .venvs/tf215-bench/bin/python -m bench.session_costs      # the same on TF 2.15

Builds the Estimator-style training graph once (one-shot iterator, `get_variable`s, v1 SGD with the
global step), then times, in interleaved rounds, `runs` calls of each variant:

- `bare`: `Session.run(train_op)`; `bare+loss`: `Session.run([train_op, loss])`;
- `bare+static`: the same with `ConfigProto.experimental.optimize_for_static_graph`;
- `bare+options`: `Session.run(train_op, options=RunOptions(), run_metadata=RunMetadata())`, as
  MonitoredSession's hooked session always calls it;
- `mon`: a `MonitoredSession` with no hooks; `mon+<hook>`: with one of TensorFlow's built-in hooks, as
  the Estimators configure them (so each hook's own cost is `mon+<hook>` minus `mon`).

Prints microseconds per run (wall and process CPU), median and range over the rounds. No Estimator
is involved, so the figures are the floor each library builds on.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _graph(cfg: Any) -> tuple[Any, Any, Any, Any]:
    import tensorflow as tf

    from bench import models

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        step = v1.train.get_or_create_global_step()
        features, labels = v1.data.make_one_shot_iterator(models.make_dataset(cfg)).get_next()
        model_fn = models.make_model_fn(cfg, _SpecApi, tpu=False)
        spec = model_fn(features, labels, "train", {})
        v1.summary.scalar("loss", spec["loss"])
    return graph, step, spec["train_op"], spec["loss"]


class _SpecApi:
    """Just enough of an Estimator API for `models.make_model_fn` to hand back its tensors."""

    class ModeKeys:
        TRAIN, EVAL, PREDICT = "train", "eval", "infer"

    @staticmethod
    def EstimatorSpec(**kwargs: Any) -> dict[str, Any]:  # noqa: N802 - mirrors the class it stands in for
        return kwargs


def _variants(cfg: Any, workdir: str) -> dict[str, Callable[[], tuple[Callable[[], Any], Callable[[], None]]]]:
    """name -> factory returning (one_run, close) on a freshly built graph and session."""
    import tensorflow as tf

    v1 = tf.compat.v1

    def bare(fetch_loss: bool, static: bool, with_options: bool = False):
        def make():
            graph, _, train_op, loss = _graph(cfg)
            config = v1.ConfigProto(allow_soft_placement=True)
            if static:
                config.experimental.optimize_for_static_graph = True
            with graph.as_default():
                init = [v1.global_variables_initializer(), v1.local_variables_initializer()]
            graph.finalize()
            sess = v1.Session(graph=graph, config=config)
            sess.run(init)
            fetches = [train_op, loss] if fetch_loss else train_op
            if with_options:  # what MonitoredSession's hooked session passes on every run
                return (lambda: sess.run(fetches, options=v1.RunOptions(), run_metadata=v1.RunMetadata())), sess.close
            return (lambda: sess.run(fetches)), sess.close

        return make

    def monitored(hook_name: str | None):
        def make():
            graph, step, train_op, loss = _graph(cfg)
            with graph.as_default():
                hooks = [] if hook_name is None else [_hook(hook_name, step, loss, workdir)]
                sess = v1.train.MonitoredSession(
                    session_creator=v1.train.ChiefSessionCreator(config=v1.ConfigProto(allow_soft_placement=True)),
                    hooks=hooks,
                )
            def close():
                with graph.as_default():
                    sess.close()

            return (lambda: sess.run(train_op)), close

        return make

    out = {
        "bare": bare(False, False),
        "bare+loss": bare(True, False),
        "bare+static": bare(False, True),
        "bare+options": bare(False, False, with_options=True),
        "mon": monitored(None),
    }
    for name in HOOKS:
        out[f"mon+{name}"] = monitored(name)
    return out


HOOKS = ("nan", "step_counter", "stop_at_step", "checkpoint_saver", "summary_saver", "logging")


def _hook(name: str, step: Any, loss: Any, workdir: str) -> Any:
    """The built-in hook `name`, configured as the Estimators' defaults configure it."""
    import tensorflow as tf

    v1 = tf.compat.v1
    hook_dir = tempfile.mkdtemp(dir=workdir)
    if name == "nan":
        return v1.train.NanTensorHook(loss)
    if name == "step_counter":
        return v1.train.StepCounterHook(every_n_steps=100, output_dir=hook_dir)
    if name == "stop_at_step":
        return v1.train.StopAtStepHook(last_step=10**9)
    if name == "checkpoint_saver":
        return v1.train.CheckpointSaverHook(hook_dir, save_steps=10**9)
    if name == "summary_saver":
        return v1.train.SummarySaverHook(save_steps=100, output_dir=hook_dir, summary_op=v1.summary.merge_all())
    if name == "logging":
        return v1.train.LoggingTensorHook({"loss": loss, "step": step}, every_n_iter=100)
    raise ValueError(f"Unknown hook: received {name!r}; choose one of {HOOKS}.")


def _time(one_run: Callable[[], Any], runs: int) -> tuple[float, float]:
    for _ in range(50):
        one_run()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(runs):
        one_run()
    return (time.perf_counter() - wall0) / runs * 1e6, (time.process_time() - cpu0) / runs * 1e6


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mlp")
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", default=None, help="comma-separated variant names")
    args = p.parse_args(argv)
    import tensorflow as tf

    from bench import models

    cfg = models.get_config(args.model)
    workdir = tempfile.mkdtemp(prefix="session-costs-")
    try:
        variants = _variants(cfg, workdir)
        if args.only:
            wanted = [v.strip() for v in args.only.split(",")]
            unknown = [v for v in wanted if v not in variants]
            if unknown:
                p.error(f"unknown variant(s) {unknown}; choose from {','.join(variants)}")
            variants = {k: variants[k] for k in wanted}
        sessions = {name: make() for name, make in variants.items()}
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in sessions}
        for _ in range(args.rounds):
            for name, (one_run, _) in sessions.items():
                figures[name].append(_time(one_run, args.runs))
        for _, close in sessions.values():
            close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"TF {tf.__version__}, model {args.model}, {args.runs} runs x {args.rounds} rounds, "
          f"load {os.getloadavg()[0]:.2f}: microseconds per session.run, median (min-max)")
    print(f"{'variant':22s} {'wall':>22s} {'CPU':>22s}")
    for name, rows in figures.items():
        wall = sorted(r[0] for r in rows)
        cpu = sorted(r[1] for r in rows)
        print(f"{name:22s} {statistics.median(wall):8.1f} ({wall[0]:5.1f}-{wall[-1]:5.1f}) "
              f"{statistics.median(cpu):8.1f} ({cpu[0]:5.1f}-{cpu[-1]:5.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
