"""One stage in this process.

    python -m estimator_kfp.pipelines.tpu_smoke.child STAGE [--expected-cores N] --workdir D


Prints exactly one JSON line, marked so the parent finds it among TensorFlow's own output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

MARKER = "TPU_SMOKE_RESULT "
STAGES = ("environment", "eager", "graph", "library")


def run_stage(stage: str, expected_cores: int | None, workdir: str) -> dict:
    if stage == "environment":
        from . import environment

        return environment.run(expected_cores)
    if stage == "eager":
        from . import eager

        return eager.run(expected_cores)
    if stage == "graph":
        from . import graph

        return graph.run(expected_cores)
    if stage == "library":
        from . import library

        return library.run(expected_cores, workdir=workdir)
    raise ValueError(f"stage must be one of {STAGES}; received stage={stage!r}.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m estimator_kfp.pipelines.tpu_smoke.child")
    parser.add_argument("stage", choices=STAGES)
    parser.add_argument("--expected-cores", type=int, default=None)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    outcome = run_stage(args.stage, args.expected_cores, args.workdir)
    sys.stdout.write(MARKER + json.dumps(outcome, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
