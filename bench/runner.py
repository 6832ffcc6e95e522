"""Runs one variant (path, model, K) in this fresh process and prints one JSON line of figures.

    python -m bench.runner --path hand --model mlp --k 10 [--opts '<RunOptions JSON>']

The line starts with `RESULT_PREFIX`, so the driver finds it among other output. The module
imports no TensorFlow at import time: it runs in the TF 2.21 interpreter and in the TF 2.15
virtual environment alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

RESULT_PREFIX = "BENCH_RESULT "

# Paths that take K (iterations_per_loop); the others always run one step per session.run.
K_PATHS = ("lib-tpu", "lib-tpu-xla", "tf215-tpu", "hand", "keras")
# run on this repo's TF (2.21); the -xla paths set RunConfig(jit_compile=True)
LIB_PATHS = ("lib-est", "lib-tpu", "hand", "keras", "lib-est-xla", "lib-tpu-xla")
ORIGINAL_PATHS = ("tf215-est", "tf215-tpu")  # run in the TF 2.15 virtual environment
ALL_PATHS = LIB_PATHS + ORIGINAL_PATHS


def _runner_for(path: str) -> Callable[..., dict[str, Any]]:
    """Imports the path's machinery (and TensorFlow) and returns run(cfg, k, opts, workdir)."""
    if path == "hand":
        from bench import hand_path

        return hand_path.run
    if path == "keras":
        from bench import keras_path

        return keras_path.run
    from bench import apis, estimator_path

    jit = path.endswith("-xla")
    tpu = path.removesuffix("-xla").endswith("-tpu")
    api = apis.estimator_lib_api(tpu) if path.startswith("lib-") else apis.tf_estimator_api(tpu)

    def run(cfg: Any, k: int, opts: Any, workdir: str) -> dict[str, Any]:
        return estimator_path.run(api, cfg, k, tpu, opts, workdir, jit_compile=jit)

    return run


def run_variant(path: str, model: str, k: int, opts_json: str | None, workdir: str | None) -> dict[str, Any]:
    """Runs one variant and returns its figures; failures come back as ok=False with the error."""
    from bench import models
    from bench.options import RunOptions

    result: dict[str, Any] = {
        "path": path, "model": model, "k": k, "ok": False,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "loadavg_start": os.getloadavg()[0],
    }
    own_dir = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix=f"bench-{path}-{model}-k{k}-")
    try:
        if path not in ALL_PATHS:
            raise ValueError(f"Unknown path: received path={path!r}. Choose one of {list(ALL_PATHS)}.")
        if k < 1:
            raise ValueError(f"K must be >= 1: received k={k}.")
        if k != 1 and path not in K_PATHS:
            raise ValueError(
                f"Path {path!r} runs one step per call: received k={k}; use k=1 or one of {list(K_PATHS)}."
            )
        cfg = models.get_config(model)
        opts = RunOptions.from_json(opts_json) if opts_json else RunOptions()
        t0 = time.perf_counter()
        run = _runner_for(path)
        import tensorflow as tf

        result.update(import_s=time.perf_counter() - t0, tf_version=tf.__version__)
        result.update(run(cfg, k, opts, workdir))
        result["ok"] = True
    except Exception as err:  # reported to the driver, which prints it and carries on
        result["error"] = f"{type(err).__name__}: {err}"
        result["traceback"] = traceback.format_exc()[-3000:]
    finally:
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    result["loadavg_end"] = os.getloadavg()[0]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", required=True, help=f"one of {', '.join(ALL_PATHS)}")
    parser.add_argument("--model", required=True)
    parser.add_argument("--k", type=int, default=1, help="steps per call (iterations_per_loop)")
    parser.add_argument("--opts", default=None, help="RunOptions as JSON")
    parser.add_argument("--workdir", default=None, help="keep files here (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    result = run_variant(args.path, args.model, args.k, args.opts, args.workdir)
    sys.stdout.write(RESULT_PREFIX + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
