"""Runs the export task and SIGKILLs itself at one chosen stage (a real kill, at a chosen point).

Usage: python _export_kill_job.py MODEL_DIR OUTPUT_DIR STAGE [N], with the checkout on PYTHONPATH, as
test_component_export_kill.py runs it (Python puts a script's own folder first on sys.path, so its neighbour
components_testlib imports as it does in the tests). STAGE is one of
`builder` (the SavedModel is written in staging, before its rename), `publishing` (half-way through writing
the `_PUBLISHING` marker), `copy` (half-way through copying the N-th file), `commit` (half-way through the
`_COMMITTED` marker), `committed` (after `_COMMITTED`, before `_PUBLISHING` is removed).
"""

import os
import signal
import sys

import tensorflow as tf
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from estimator_kfp.components.export.task import run_export

from estimator_lib.storage import publish


def die_after_half(source_bytes: bytes, partial_path: str) -> None:
    with open(partial_path, "wb") as handle:
        handle.write(source_bytes[: len(source_bytes) // 2])
        handle.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main(model_dir, output_dir, stage, n):
    copies = {"count": 0}
    real_copy, real_marker, real_rename = publish.copy_file, publish._write_file_atomically, tf.io.gfile.rename

    def copy_file(source, target):
        copies["count"] += 1
        if stage == "copy" and copies["count"] == n:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(source, "rb") as handle:
                die_after_half(handle.read(), target + ".tmp-0123456789ab")
        real_copy(source, target)

    def write_marker(path, data):
        name = os.path.basename(path)
        if (stage, name) in (("publishing", publish.PUBLISHING_MARKER), ("commit", publish.COMMIT_MARKER)):
            die_after_half(data, path + ".tmp-0123456789ab")
        real_marker(path, data)
        if stage == "committed" and name == publish.COMMIT_MARKER:
            os.kill(os.getpid(), signal.SIGKILL)

    def rename(source, target, overwrite=False):
        if stage == "builder" and os.path.basename(source).startswith("temp-"):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_rename(source, target, overwrite)

    publish.copy_file, publish._write_file_atomically, tf.io.gfile.rename = copy_file, write_marker, rename
    run_export(model_ref=MODEL_REF, model_dir=model_dir, output_dir=output_dir, params_json=TINY_PARAMS_JSON)
    print("EXPORTED", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0)
