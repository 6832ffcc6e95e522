"""The benchmark driver: one fresh process per variant, interleaved repeats, a Markdown report.

    python -m bench                    # full suite: mlp+cnn, K=1,10,100, 5 repeats, all paths
    python -m bench --quick            # issue 15's target lines only: 12 variants, 3 repeats (a few minutes)
    python -m bench --smoke            # seconds: tiny model, no TF 2.15 venv (used by the test)
    python -m bench --report runs/bench/<stamp>/results.jsonl   # re-render a finished run
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench import apis, models, report, venv
from bench.options import RunOptions
from bench.runner import ALL_PATHS, ORIGINAL_PATHS, RESULT_PREFIX
from bench.timing import WindowRule

Variant = tuple[str, str, int]  # (path, model, K)

# --quick: the variants issue 15's targets need, and whether each measures the K-independent extras
# (time to first step is always measured; evaluate/predict/export only where marked).
QUICK_PLAN: tuple[tuple[str, str, int, bool], ...] = (
    ("lib-est", "mlp", 1, True), ("tf215-est", "mlp", 1, True),
    ("lib-tpu", "mlp", 1, True), ("tf215-tpu", "mlp", 1, True),
    ("lib-tpu", "mlp", 100, False), ("hand", "mlp", 100, False),
    ("lib-tpu-xla", "cnn", 100, False), ("lib-tpu-xla", "cnn", 1, False), ("lib-est-xla", "cnn", 1, False),
    ("lib-tpu", "cnn", 100, False), ("tf215-tpu", "cnn", 1, False), ("tf215-est", "cnn", 1, False),
)

# Paths whose K sweep is run. The original TPUEstimator runs one step per session.run off-TPU
# whatever iterations_per_loop is (its steps_ok is False at K>1), so it is run at K=1 only.
SWEEP_PATHS = ("lib-tpu", "lib-tpu-xla", "hand", "keras")
# The full suite leaves the XLA variants out unless asked (--paths ...,lib-tpu-xla); --quick runs them.
DEFAULT_PATHS = tuple(p for p in ALL_PATHS if not p.endswith("-xla"))


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: " + ",".join(models.MODELS))
    p.add_argument("--ks", default="1,10,100", help="steps per call for the K paths")
    p.add_argument("--paths", default=None, help="comma-separated: " + ",".join(ALL_PATHS))
    p.add_argument("--repeats", type=int, default=None, help="runs per variant (default 5, --quick 3)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="only the variants of issue 15's targets (3 repeats, 1.5 s windows); prints the target lines",
    )
    p.add_argument("--smoke", action="store_true", help="tiny model, K=1,2, one repeat, no TF 2.15 venv")
    p.add_argument("--min-seconds", type=float, default=None, help="measured window per run (default 3)")
    p.add_argument("--no-original", action="store_true", help="skip path (d), the TF 2.15 venv")
    p.add_argument("--venv", default=venv.VENV_DIR, help="the TF 2.15 venv (created when missing)")
    p.add_argument("--out", default=None, help="results folder (default runs/bench/<time>)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per run before it is killed")
    p.add_argument(
        "--report", default=None, help="only render the report of these results.jsonl files (comma-separated)"
    )
    args = p.parse_args(argv)
    if args.smoke:
        args.models, args.ks = "tiny", "1,2"
        if args.paths is None:
            args.paths = "lib-est,lib-tpu,hand,keras"
        args.no_original = True
    if args.paths is None:
        args.paths = ",".join(ALL_PATHS if args.quick else DEFAULT_PATHS)
    for name in _csv(args.models):
        models.get_config(name)
    bad = [x for x in _csv(args.paths) if x not in ALL_PATHS]
    if bad:
        p.error(f"unknown path(s) {bad}: received --paths={args.paths!r}; choose from {','.join(ALL_PATHS)}")
    try:
        ks = [int(k) for k in _csv(args.ks)]
    except ValueError:
        p.error(f"--ks takes integers: received --ks={args.ks!r}, e.g. --ks 1,10,100")
    if not ks or min(ks) < 1:
        p.error(f"--ks takes integers >= 1: received --ks={args.ks!r}")
    args.k_list = ks
    if args.repeats is None:
        args.repeats = 1 if args.smoke else (3 if args.quick else 5)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1: received {args.repeats}")
    return args


def run_options(args: argparse.Namespace) -> RunOptions:
    if args.smoke:
        window = WindowRule(warmup_calls=1, warmup_seconds=0.0, min_calls=2, min_seconds=0.0, max_calls=2)
        return RunOptions(window=window, eval_batches=2, predict_batches=3, eval_calls=1)
    seconds = args.min_seconds if args.min_seconds is not None else (1.5 if args.quick else 3.0)
    window = WindowRule(warmup_seconds=0.5 if args.quick else 1.0, min_seconds=seconds)
    return RunOptions(window=window, export=not args.quick)


def variants(args: argparse.Namespace) -> list[Variant]:
    if args.quick and not args.smoke:
        # --paths, --models and --ks narrow the plan (e.g. --ks 1 for the K=1 targets alone).
        return [
            (path, model, k)
            for path, model, k, _ in QUICK_PLAN
            if path in _csv(args.paths) and model in _csv(args.models) and k in args.k_list
        ]
    out = []
    for model in _csv(args.models):
        for path in _csv(args.paths):
            for k in args.k_list if path in SWEEP_PATHS else [1]:
                out.append((path, model, k))
    return out


def available_paths(args: argparse.Namespace) -> tuple[dict[str, str], list[str]]:
    """Maps each runnable path to its interpreter; returns messages about skipped paths."""
    notes, interpreters = [], {}
    original_python = None
    wanted = _csv(args.paths)
    if any(p in ORIGINAL_PATHS for p in wanted):
        if args.no_original:
            notes.append("skipping the original tf.estimator (d): --no-original")
        else:
            original_python, msg = venv.ensure_venv(args.venv, log=lambda m: print(f"[bench] {m}", flush=True))
            notes.append(("" if original_python else "skipping the original tf.estimator (d): ") + msg)
    for path in wanted:
        if path in ORIGINAL_PATHS:
            if original_python:
                interpreters[path] = original_python
            continue
        check = apis.AVAILABILITY_CHECKS.get(path)
        if check:
            proc = subprocess.run(
                [sys.executable, "-c", check], capture_output=True, text=True, env=_env(), cwd=venv.REPO_ROOT
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                notes.append(f"skipping {path}: `{check}` fails here ({last})")
                continue
        interpreters[path] = sys.executable
    return interpreters, notes


def _env() -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONPATH=venv.REPO_ROOT)
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def wants_extras(variant: Variant, quick: bool) -> bool:
    """Evaluate/export/predict do not depend on K: measured at K=1 only (in --quick, as QUICK_PLAN says)."""
    if quick:
        return any(plan[:3] == variant and plan[3] for plan in QUICK_PLAN)
    return variant[2] == 1


def run_one(python: str, variant: Variant, opts: RunOptions, timeout: float, quick: bool = False) -> dict[str, Any]:
    """Runs the variant in a fresh interpreter and returns its result line (or the failure)."""
    path, model, k = variant
    if not wants_extras(variant, quick):
        opts = dataclasses.replace(opts, extras=False)
    if path.endswith("-xla"):
        # XLA compiles a cluster lazily, after its first executions: keep those calls in the warm-up.
        window = dataclasses.replace(opts.window, warmup_calls=max(opts.window.warmup_calls, 5))
        opts = dataclasses.replace(opts, window=window)
    cmd = [python, "-m", "bench.runner", "--path", path, "--model", model, "--k", str(k), "--opts", opts.to_json()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=venv.REPO_ROOT, env=_env())
    except subprocess.TimeoutExpired:
        return {"path": path, "model": model, "k": k, "ok": False, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    tail = (proc.stderr or proc.stdout).strip()[-1500:]
    return {"path": path, "model": model, "k": k, "ok": False, "error": f"exit {proc.returncode}, no result: {tail}"}


def _progress(i: int, n: int, rep: int, variant: Variant, r: dict[str, Any]) -> str:
    path, model, k = variant
    head = f"[{i}/{n}] rep {rep + 1} {path:9s} {model} K={k:<3d}"
    if not r.get("ok"):
        return f"{head} FAILED: {str(r.get('error', '?')).splitlines()[0][:200]}"
    rate = r.get("steady_ex_s")
    rate_s = f"{rate:,.0f} ex/s" if rate else "no window"
    return f"{head} {rate_s}, first step {r.get('ttfs_s', 0):.2f} s, load {r.get('loadavg_start', 0):.2f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        results = []
        for name in _csv(args.report):
            with open(name) as f:
                results += [json.loads(line) for line in f if line.strip()]
        print(report.render(results))
        return 0
    out_dir = args.out or os.path.join(venv.REPO_ROOT, "runs", "bench", time.strftime("%Y%m%d-%H%M%S"))
    os.makedirs(out_dir, exist_ok=True)
    interpreters, notes = available_paths(args)
    for note in notes:
        print(f"[bench] {note}", flush=True)
    todo = [v for v in variants(args) if v[0] in interpreters]
    if not todo:
        print("[bench] nothing to run", file=sys.stderr)
        return 2
    opts = run_options(args)
    results_path = os.path.join(out_dir, "results.jsonl")
    print(f"[bench] {len(todo)} variants x {args.repeats} repeats -> {results_path}", flush=True)
    results: list[dict[str, Any]] = []
    broken: set = set()
    n, i = len(todo) * args.repeats, 0
    for rep in range(args.repeats):
        order = list(todo)
        random.Random(rep).shuffle(order)  # interleave: a different order every repeat
        for variant in order:
            i += 1
            if variant in broken:
                continue
            r = run_one(interpreters[variant[0]], variant, opts, args.timeout, quick=args.quick and not args.smoke)
            r["repeat"] = rep
            results.append(r)
            with open(results_path, "a") as f:
                f.write(json.dumps(r, default=str) + "\n")
            print(_progress(i, n, rep, variant, r), flush=True)
            if not r.get("ok"):
                broken.add(variant)  # do not spend the machine on a variant that cannot run
    text = report.render(results)
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(f"- {note}" for note in notes) + "\n\n" + text)
    print(report.render_targets(results) if args.quick else text)
    return 0 if all(r.get("ok") for r in results) else 1
