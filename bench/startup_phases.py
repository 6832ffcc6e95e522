"""Where start-up time goes: train to the first step, each evaluate() call, predict() to its first batch.

    python -m bench.startup_phases --path lib-est [--model mlp] [--profile] [--top 25]
    .venvs/tf215-bench/bin/python -m bench.startup_phases --path tf215-est     # the original, same phases
    python -m bench.startup_phases --compare lib-est,tf215-est,lib-tpu,tf215-tpu --repeats 5   # medians, interleaved

Runs the bench's estimator path once in this process (K=1, the quick mode's evaluate and predict
sizes), with timers around the functions both libraries share from TensorFlow (model_fn, input_fn,
Scaffold.finalize, Saver build/restore/save, Session creation, hooks' begin/after_create_session, the
first session.run, graph and event writing). Figures are inclusive wall and process-CPU seconds per
phase; nested timers are not subtracted. `--profile` adds a cProfile of each phase (inflated by the
profiler: read it for shares, not totals).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

# (label, module, attribute path): TensorFlow functions present in TF 2.15 and 2.21 alike.
TF_TIMERS = (
    ("Scaffold.finalize", "tensorflow.python.training.monitored_session", "Scaffold.finalize"),
    ("Saver build", "tensorflow.python.training.saver", "Saver.build"),
    ("Saver restore", "tensorflow.python.training.saver", "Saver.restore"),
    ("Saver save", "tensorflow.python.training.saver", "Saver.save"),
    ("Session()", "tensorflow.python.client.session", "Session.__init__"),
    ("prepare_session", "tensorflow.python.training.session_manager", "SessionManager.prepare_session"),
    ("write_graph", "tensorflow.python.framework.graph_io", "write_graph"),
    ("export_meta_graph", "tensorflow.python.training.saver", "Saver.export_meta_graph"),
    ("FileWriter()", "tensorflow.python.summary.writer.writer", "FileWriter.__init__"),
    ("FileWriter.close", "tensorflow.python.summary.writer.writer", "FileWriter.close"),
    ("Session.run", "tensorflow.python.client.session", "BaseSession.run"),
    ("make_callable", "tensorflow.python.client.session", "BaseSession.make_callable"),
    ("MonitoredSession()", "tensorflow.python.training.monitored_session", "MonitoredSession.__init__"),
    ("create_session", "tensorflow.python.training.monitored_session", "_CoordinatedSessionCreator.create_session"),
)


class PhaseClock:
    """Accumulates inclusive wall and CPU seconds per label, within the phase that is open."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.totals: dict[str, dict[str, list[float]]] = {}
        self._depth: dict[str, int] = {}

    @contextlib.contextmanager
    def time(self, label: str) -> Iterator[None]:
        outer = self._depth.get(label, 0) == 0  # recursion (super() chains) is counted once
        self._depth[label] = self._depth.get(label, 0) + 1
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self._depth[label] -= 1
            if outer:
                row = self.totals.setdefault(self.phase, {}).setdefault(label, [0.0, 0.0, 0])
                row[0] += time.perf_counter() - t0
                row[1] += time.process_time() - c0
                row[2] += 1

    def wrap(self, label: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.time(label):
                return fn(*args, **kwargs)

        return timed


def install_timers(clock: PhaseClock) -> None:
    """Wraps TF_TIMERS and every hook class's begin/after_create_session (hooks are found when first used)."""
    import importlib

    for label, module_name, attr in TF_TIMERS:
        owner: Any = importlib.import_module(module_name)
        *parents, name = attr.split(".")
        for part in parents:
            owner = getattr(owner, part, None)
            if owner is None:
                break
        if owner is not None and hasattr(owner, name):
            setattr(owner, name, clock.wrap(label, getattr(owner, name)))
    from tensorflow.python.training import session_run_hook

    hook_base = session_run_hook.SessionRunHook
    original_init_subclass = hook_base.__dict__.get("__init_subclass__")

    def wrap_hook_class(cls: type) -> None:
        for method in ("begin", "after_create_session"):
            if method in cls.__dict__ and not getattr(cls.__dict__[method], "_phase_timed", False):
                timed = clock.wrap(f"hooks' {method}", cls.__dict__[method])
                timed._phase_timed = True  # type: ignore[attr-defined]
                setattr(cls, method, timed)

    def all_subclasses(cls: type) -> list[type]:
        out = []
        for sub in cls.__subclasses__():
            out += [sub, *all_subclasses(sub)]
        return out

    for cls in all_subclasses(hook_base):
        wrap_hook_class(cls)

    @classmethod  # type: ignore[misc]
    def init_subclass(cls: type, **kwargs: Any) -> None:
        if original_init_subclass is not None:
            original_init_subclass.__func__(cls, **kwargs)
        wrap_hook_class(cls)

    hook_base.__init_subclass__ = init_subclass  # type: ignore[assignment]


def run(path: str, model: str, profile: bool, top: int) -> dict[str, Any]:
    from bench import apis, estimator_path, models

    t0, c0 = time.perf_counter(), time.process_time()
    tpu = path.endswith("-tpu")
    api = apis.estimator_lib_api(tpu) if path.startswith("lib-") else apis.tf_estimator_api(tpu)
    import tensorflow as tf

    import_s = (time.perf_counter() - t0, time.process_time() - c0)
    clock = PhaseClock()
    install_timers(clock)
    cfg = models.get_config(model)
    workdir = tempfile.mkdtemp(prefix=f"phases-{path}-")
    make_model_fn = models.make_model_fn

    def timed_make_model_fn(*args: Any, **kwargs: Any) -> Callable:
        user_fn = make_model_fn(*args, **kwargs)

        def model_fn(features: Any, labels: Any, mode: str, params: Any) -> Any:
            with clock.time("model_fn"):
                return user_fn(features, labels, mode, params)

        return model_fn

    models.make_model_fn = timed_make_model_fn
    est = estimator_path._make_estimator(api, cfg, 1, tpu, os.path.join(workdir, "model"), False)  # noqa: SLF001
    profiles: dict[str, cProfile.Profile] = {}

    def input_fn_of(**kw: Any) -> Callable:
        def input_fn(params: Any) -> Any:
            with clock.time("input_fn"):
                return models.make_dataset(cfg, **kw)

        return input_fn

    @contextlib.contextmanager
    def phase(name: str) -> Iterator[dict[str, float]]:
        clock.phase = name
        marks = {"t0": time.perf_counter(), "c0": time.process_time()}
        prof = cProfile.Profile() if profile else None
        if prof is not None:
            profiles[name] = prof
            prof.enable()
        marks["prof"] = prof  # type: ignore[assignment]
        yield marks

    def close(marks: dict, name: str) -> None:
        if marks.get("prof") is not None:
            marks["prof"].disable()
        if "end" not in marks:
            marks["end"], marks["cend"] = time.perf_counter(), time.process_time()
            clock.totals.setdefault(name, {})["(phase)"] = [marks["end"] - marks["t0"], marks["cend"] - marks["c0"], 1]

    class FirstStep(tf.compat.v1.train.SessionRunHook):
        def __init__(self, marks: dict) -> None:
            self.marks = marks

        def after_run(self, run_context: Any, run_values: Any) -> None:
            close(self.marks, "train to first step")
            clock.phase = "train after first step"
            run_context.request_stop()

    with phase("train to first step") as marks:
        est.train(input_fn_of(), max_steps=estimator_path.BIG, hooks=[FirstStep(marks)])
    for i in (1, 2):
        name = f"evaluate {i}"
        with phase(name) as marks:
            est.evaluate(input_fn_of(), steps=20)
        close(marks, name)
    with phase("predict to first batch") as marks:
        for _ in est.predict(input_fn_of(with_labels=False, n_batches=50), yield_single_examples=False):
            close(marks, "predict to first batch")
            clock.phase = "predict rest"
    result = {"path": path, "tf": tf.__version__, "import": import_s, "phases": clock.totals}
    if profile:
        for name, prof in profiles.items():
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
            print(f"\n===== cProfile: {name} =====\n{out.getvalue()}", file=sys.stderr)
    return result


def render(result: dict[str, Any]) -> str:
    lines = [f"{result['path']} (TF {result['tf']}): import {result['import'][0]:.3f} s wall, "
             f"{result['import'][1]:.3f} s CPU"]
    for name, rows in result["phases"].items():
        if name in ("setup", "train after first step", "predict rest"):
            continue
        lines.append(f"\n{name}: " + "{:.3f} s wall, {:.3f} s CPU".format(*rows.get("(phase)", [0, 0])))
        for label, (wall, cpu, calls) in sorted(rows.items(), key=lambda kv: -kv[1][0]):
            if label != "(phase)":
                lines.append(f"  {label:28s} {wall * 1e3:8.1f} ms wall {cpu * 1e3:8.1f} ms CPU  x{calls}")
    return "\n".join(lines)


def compare(paths: list[str], repeats: int, model: str) -> str:
    """Runs each path `repeats` times in fresh processes, interleaved; medians per phase and timer."""
    import statistics
    import subprocess

    from bench import venv

    runs: dict[str, list[dict]] = {p: [] for p in paths}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=venv.REPO_ROOT)
    for rep in range(repeats):
        for path in paths if rep % 2 == 0 else paths[::-1]:
            python = venv.venv_python() if path.startswith("tf215") else sys.executable
            cmd = [python, "-m", "bench.startup_phases", "--path", path, "--model", model, "--json"]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=venv.REPO_ROOT, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
            runs[path].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    phases = ("train to first step", "evaluate 1", "evaluate 2", "predict to first batch")
    load = os.getloadavg()[0]
    lines = [f"medians of {repeats} fresh processes per path, ms wall / ms CPU; load {load:.2f} at the end",
             "", "| phase: timer | " + " | ".join(paths) + " |", "|---" * (len(paths) + 1) + "|"]
    for name in phases:
        labels: list[str] = ["(phase)"]
        for path in paths:
            for run_ in runs[path]:
                labels += [x for x in run_["phases"].get(name, {}) if x not in labels]
        for label in labels:
            cells = []
            for path in paths:
                rows = [r["phases"].get(name, {}).get(label) for r in runs[path]]
                rows = [r for r in rows if r]
                if not rows:
                    cells.append("-")
                    continue
                wall = statistics.median(r[0] for r in rows) * 1e3
                cpu = statistics.median(r[1] for r in rows) * 1e3
                cells.append(f"{wall:.0f} / {cpu:.0f}")
            title = f"**{name}**" if label == "(phase)" else f"{name}: {label}"
            lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", choices=("lib-est", "lib-tpu", "tf215-est", "tf215-tpu"))
    p.add_argument("--compare", default=None, help="comma-separated paths to run in fresh processes, interleaved")
    p.add_argument("--repeats", type=int, default=3, help="with --compare: processes per path")
    p.add_argument("--model", default="mlp")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of each phase (stderr)")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = p.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.compare:
        print(compare([x.strip() for x in args.compare.split(",") if x.strip()], args.repeats, args.model))
        return 0
    if args.path is None:
        p.error("give --path or --compare")
    result = run(args.path, args.model, args.profile, args.top)
    print(json.dumps(result) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
