"""Profiles one variant's training under cProfile, to name where per-call time goes.

    python -m bench.profile --path lib-est --model mlp --k 1 [--seconds 5] [--top 30]

Run it with the venv's python for the tf215-* paths. Prints the functions with the most own
time and the per-session.run cost of each hook method (Python side only: time inside
TensorFlow's C++ runtime shows up under `_call_tf_sessionrun` / `TFE_Py_Execute`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", required=True)
    p.add_argument("--model", default="mlp")
    p.add_argument("--k", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0, help="measured window")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args(argv)

    from bench.options import RunOptions
    from bench.runner import run_variant
    from bench.timing import WindowRule

    opts = RunOptions(window=WindowRule(min_seconds=args.seconds), extras=False)
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_variant(args.path, args.model, args.k, opts.to_json(), None)
    profiler.disable()
    if not result["ok"]:
        print(result.get("traceback", result.get("error")), file=sys.stderr)
        return 1
    calls = result["calls_total"]
    print(f"{args.path} {args.model} K={args.k}: {calls} calls, {result.get('steady_ex_s', 0):,.0f} ex/s (profiled)")
    stats = pstats.Stats(profiler)
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    print("per-call cost (microseconds, cumulative) of session and hook methods:")
    rows = []
    for (filename, _, name), (_, ncalls, _, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        interesting = (
            name in ("before_run", "after_run", "run", "_run", "_call_tf_sessionrun") or "hook" in filename.lower()
        )
        if interesting and ncalls >= calls // 2:
            rows.append((cumtime / calls * 1e6, ncalls, f"{filename.split('site-packages/')[-1]}:{name}"))
    for per_call, ncalls, where in sorted(rows, reverse=True)[:40]:
        print(f"{per_call:10.1f}  {ncalls:8d}  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
