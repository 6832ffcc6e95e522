"""What a model directory holds, read from the files themselves (not from the `checkpoint` state file)."""

from __future__ import annotations

import glob
import os


def checkpoint_steps(model_dir: str) -> list[int]:
    """The global steps of the checkpoints in `model_dir` (one per `model.ckpt-N.index` file), sorted."""
    steps = []
    for index in glob.glob(os.path.join(model_dir, "model.ckpt-*.index")):
        steps.append(int(os.path.basename(index)[len("model.ckpt-") : -len(".index")]))
    return sorted(steps)
