"""Prints what each training `session.run` of an Estimator path fetches, hook by hook.

    python -m bench.fetch_list --path lib-est [--model mlp] [--runs 1,2,100,101]
    .venvs/tf215-bench/bin/python -m bench.fetch_list --path tf215-est

Both libraries run their hooks through TensorFlow's `_HookedSession._call_hook_before_run`, which
merges every hook's request into one fetch dict; this records that dict on the chosen runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def _describe(fetches: Any) -> Any:
    if isinstance(fetches, dict):
        return {str(k): _describe(v) for k, v in fetches.items()}
    if isinstance(fetches, (list, tuple)):
        return [_describe(v) for v in fetches]
    return getattr(fetches, "name", repr(fetches))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", required=True)
    p.add_argument("--model", default="mlp")
    p.add_argument("--runs", default="1,2,100,101", help="which training runs to show (1-based)")
    args = p.parse_args(argv)
    wanted = {int(r) for r in args.runs.split(",")}

    from tensorflow.python.training import monitored_session

    from bench.options import RunOptions
    from bench.runner import run_variant
    from bench.timing import WindowRule

    original = monitored_session._HookedSession._call_hook_before_run  # noqa: SLF001
    seen: dict[int, Any] = {}
    count = [0]

    def recording(self, run_context, fetch_dict, user_feed_dict, options):  # type: ignore[no-untyped-def]
        feeds = original(self, run_context, fetch_dict, user_feed_dict, options)
        if len(self._hooks) > 2:  # noqa: SLF001 - the training session (evaluate/predict have fewer hooks)
            count[0] += 1
            if count[0] in wanted:
                seen[count[0]] = {
                    (type(k).__name__ if k != "caller" else "caller (the Estimator's loop)"): _describe(v)
                    for k, v in fetch_dict.items()
                }
        return feeds

    monitored_session._HookedSession._call_hook_before_run = recording  # noqa: SLF001
    window = WindowRule(warmup_calls=1, warmup_seconds=0.0, min_calls=max(wanted) + 1, min_seconds=0.0,
                        max_calls=max(wanted) + 1)
    result = run_variant(args.path, args.model, 1, RunOptions(window=window, extras=False).to_json(), None)
    if not result["ok"]:
        print(result.get("traceback", result.get("error")), file=sys.stderr)
        return 1
    for run in sorted(seen):
        print(f"run {run}:")
        for who, what in seen[run].items():
            print(f"  {who}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
