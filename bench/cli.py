"""The benchmark driver: one fresh process per variant, interleaved repeats, a Markdown report.

    python -m bench                    # full suite: mlp+cnn, K=1,10,100, 5 repeats, all paths
    python -m bench --quick            # 2 repeats, shorter windows
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
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bench import apis, models, report, venv
from bench.options import RunOptions
from bench.runner import ALL_PATHS, K_PATHS, ORIGINAL_PATHS, RESULT_PREFIX
from bench.timing import WindowRule

Variant = Tuple[str, str, int]  # (path, model, K)

# Paths whose K sweep is run. The original TPUEstimator runs one step per session.run off-TPU
# whatever iterations_per_loop is (its steps_ok is False at K>1), so it is run at K=1 only.
SWEEP_PATHS = ("lib-tpu", "hand", "keras")


def _csv(text: str) -> List[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default="mlp,cnn", help="comma-separated: " + ",".join(models.MODELS))
    p.add_argument("--ks", default="1,10,100", help="steps per call for the K paths")
    p.add_argument("--paths", default=",".join(ALL_PATHS), help="comma-separated: " + ",".join(ALL_PATHS))
    p.add_argument("--repeats", type=int, default=None, help="runs per variant (default 5, --quick 2)")
    p.add_argument("--quick", action="store_true", help="2 repeats and 1.5 s windows")
    p.add_argument("--smoke", action="store_true", help="tiny model, K=1,2, one repeat, no TF 2.15 venv")
    p.add_argument("--min-seconds", type=float, default=None, help="measured window per run (default 3)")
    p.add_argument("--no-original", action="store_true", help="skip path (d), the TF 2.15 venv")
    p.add_argument("--venv", default=venv.VENV_DIR, help="the TF 2.15 venv (created when missing)")
    p.add_argument("--out", default=None, help="results folder (default runs/bench/<time>)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per run before it is killed")
    p.add_argument("--report", default=None, help="only render the report of these results.jsonl files (comma-separated)")
    args = p.parse_args(argv)
    if args.smoke:
        args.models, args.ks = "tiny", "1,2"
        if args.paths == p.get_default("paths"):
            args.paths = "lib-est,lib-tpu,hand,keras"
        args.no_original = True
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
        args.repeats = 1 if args.smoke else (2 if args.quick else 5)
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1: received {args.repeats}")
    return args


def run_options(args: argparse.Namespace) -> RunOptions:
    if args.smoke:
        window = WindowRule(warmup_calls=1, warmup_seconds=0.0, min_calls=2, min_seconds=0.0, max_calls=2)
        return RunOptions(window=window, eval_batches=2, predict_batches=3, eval_calls=1)
    seconds = args.min_seconds if args.min_seconds is not None else (1.5 if args.quick else 3.0)
    return RunOptions(window=WindowRule(warmup_seconds=0.5 if args.quick else 1.0, min_seconds=seconds))


def variants(args: argparse.Namespace) -> List[Variant]:
    out = []
    for model in _csv(args.models):
        for path in _csv(args.paths):
            for k in (args.k_list if path in SWEEP_PATHS else [1]):
                out.append((path, model, k))
    return out


def available_paths(args: argparse.Namespace) -> Tuple[Dict[str, str], List[str]]:
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
            proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, env=_env(), cwd=venv.REPO_ROOT)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                notes.append(f"skipping {path}: `{check}` fails here ({last})")
                continue
        interpreters[path] = sys.executable
    return interpreters, notes


def _env() -> Dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="", PYTHONPATH=venv.REPO_ROOT)
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def run_one(python: str, variant: Variant, opts: RunOptions, timeout: float) -> Dict[str, Any]:
    """Runs the variant in a fresh interpreter and returns its result line (or the failure)."""
    path, model, k = variant
    if k != 1:
        opts = dataclasses.replace(opts, extras=False)  # evaluate/export/predict do not depend on K
    cmd = [python, "-m", "bench.runner", "--path", path, "--model", model, "--k", str(k), "--opts", opts.to_json()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=venv.REPO_ROOT, env=_env())
    except subprocess.TimeoutExpired:
        return {"path": path, "model": model, "k": k, "ok": False, "error": f"timed out after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    tail = (proc.stderr or proc.stdout).strip()[-1500:]
    return {"path": path, "model": model, "k": k, "ok": False, "error": f"exit {proc.returncode}, no result: {tail}"}


def _progress(i: int, n: int, rep: int, variant: Variant, r: Dict[str, Any]) -> str:
    path, model, k = variant
    head = f"[{i}/{n}] rep {rep + 1} {path:9s} {model} K={k:<3d}"
    if not r.get("ok"):
        return f"{head} FAILED: {str(r.get('error', '?')).splitlines()[0][:200]}"
    rate = r.get("steady_ex_s")
    rate_s = f"{rate:,.0f} ex/s" if rate else "no window"
    return f"{head} {rate_s}, first step {r.get('ttfs_s', 0):.2f} s, load {r.get('loadavg_start', 0):.2f}"


def main(argv: Optional[Sequence[str]] = None) -> int:
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
    results: List[Dict[str, Any]] = []
    broken: set = set()
    n, i = len(todo) * args.repeats, 0
    for rep in range(args.repeats):
        order = list(todo)
        random.Random(rep).shuffle(order)  # interleave: a different order every repeat
        for variant in order:
            i += 1
            if variant in broken:
                continue
            r = run_one(interpreters[variant[0]], variant, opts, args.timeout)
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
    print(text)
    return 0 if all(r.get("ok") for r in results) else 1
