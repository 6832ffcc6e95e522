"""The train step copies `init_model_dir` into its output whole or not at all: a copy killed at any file
leaves a directory the retry recognises as partial, clears and copies again, so the retry resumes from the
init checkpoint's step, never from an older checkpoint that happened to be copied already."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf
from components_testlib import MODEL_REF, TINY_PARAMS_JSON
from estimator_kfp.components.train.task import TrainRequest, run_train

from estimator_lib.storage import seed
from estimator_lib.storage.publish import PUBLISHING_MARKER

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def init_dir(tmp_path_factory) -> str:
    """A model trained to step 40 with checkpoints at 20 and 40 (and 0): older complete ones sort first."""
    model_dir = str(tmp_path_factory.mktemp("seed") / "init")
    for attempt in range(2):
        run_train(TrainRequest(model_ref=MODEL_REF, output_model_dir=model_dir, params_json=TINY_PARAMS_JSON,
                               train_steps=20, tf_random_seed=1, init_model_dir=model_dir if attempt else ""))
    assert tf.train.latest_checkpoint(model_dir).endswith("model.ckpt-40")
    return model_dir


def _copy_order(source: str) -> list[str]:
    """The order the seed copies files in (publish_directory: by name, the checkpoint state file last)."""
    names = sorted(os.listdir(source))
    return sorted(names, key=lambda name: (name == seed.STATE_FILE, name))


def _killed_copy(source: str, target: str, copied: int) -> None:
    """What a copy killed after `copied` files leaves: the marker, those files, a torn temporary of the next."""
    os.makedirs(target)
    with open(os.path.join(target, PUBLISHING_MARKER), "w") as handle:
        json.dump({"pid": 1, "source": os.path.basename(source)}, handle)
    order = _copy_order(source)
    for name in order[:copied]:
        shutil.copyfile(os.path.join(source, name), os.path.join(target, name))
    if copied < len(order):
        with open(os.path.join(source, order[copied]), "rb") as whole, \
                open(os.path.join(target, order[copied] + ".tmp-0123456789ab"), "wb") as torn:
            torn.write(whole.read()[:7])


def _same_files(source: str, target: str) -> bool:
    comparison = filecmp.dircmp(source, target)
    return not comparison.left_only and not comparison.right_only and not filecmp.cmpfiles(
        source, target, comparison.common_files, shallow=False)[1]


def test_a_copy_killed_after_any_file_is_cleared_and_copied_again(init_dir, tmp_path):
    order = _copy_order(init_dir)
    for copied in range(len(order) + 1):
        target = str(tmp_path / f"killed-after-{copied}")
        _killed_copy(init_dir, target, copied)
        assert seed.seed_model_dir(init_dir, target) == "copied"
        assert _same_files(init_dir, target), copied
    print(f"\nSEED KILL STAGES: {len(order) + 1} (after 0..{len(order)} of {order}); every retry copied it whole")
    # A complete copy (an earlier attempt may have trained on in it) is kept.
    assert seed.seed_model_dir(init_dir, str(tmp_path / f"killed-after-{len(order)}")) == "kept"


def test_the_gfile_route_clears_a_torn_copy_too(init_dir, tmp_path):
    """The gs:// route (TensorFlow's GCS client) run on local paths: a torn file under its final name."""
    order = _copy_order(init_dir)
    target = str(tmp_path / "torn")
    _killed_copy(init_dir, target, len(order) - 1)  # everything but the state file
    with open(os.path.join(target, order[0]), "r+b") as handle:
        handle.truncate(3)
    assert seed._seed_with_gfile(init_dir, target) == "copied"
    assert _same_files(init_dir, target)
    assert seed._seed_with_gfile(init_dir, target) == "kept"


def test_the_retry_after_a_copy_killed_before_the_newest_checkpoint_resumes_from_it(init_dir, tmp_path):
    order = _copy_order(init_dir)
    before_newest = next(i for i, name in enumerate(order) if name.startswith("model.ckpt-40"))
    output = str(tmp_path / "output")
    _killed_copy(init_dir, output, before_newest)  # model.ckpt-0 and -20 complete, -40 not copied yet
    request = TrainRequest(model_ref=MODEL_REF, output_model_dir=output, params_json=TINY_PARAMS_JSON,
                           train_steps=5, init_model_dir=init_dir)
    assert run_train(request)["global_step"] == 45
    # Trained on from the init checkpoint's step 40: its files are there as copied, not from step 20 or 0.
    for name in order:
        if name.startswith("model.ckpt-40"):
            assert filecmp.cmp(os.path.join(init_dir, name), os.path.join(output, name), shallow=False)
    assert not os.path.exists(os.path.join(output, PUBLISHING_MARKER))


def test_a_real_sigkill_during_the_copy_leaves_a_state_the_retry_repairs(init_dir, tmp_path):
    source = str(tmp_path / "big-init")
    shutil.copytree(init_dir, source)
    with open(os.path.join(source, "m_padding.bin"), "wb") as handle:  # copied before the model.ckpt files
        handle.write(os.urandom(64 * 1024 * 1024))
    output = str(tmp_path / "output")
    script = f"from estimator_lib.storage.seed import seed_model_dir; seed_model_dir({source!r}, {output!r})"
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        while process.poll() is None and not any(name.startswith("m_padding.bin.tmp-")
                                                 for name in (os.listdir(output) if os.path.isdir(output) else [])):
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    killed_mid_copy = process.returncode == -signal.SIGKILL
    if killed_mid_copy:
        assert os.path.exists(os.path.join(output, PUBLISHING_MARKER))
        assert not any(name.startswith("model.ckpt") for name in os.listdir(output))
    request = TrainRequest(model_ref=MODEL_REF, output_model_dir=output, params_json=TINY_PARAMS_JSON,
                           train_steps=5, init_model_dir=source)
    assert run_train(request)["global_step"] == 45
    assert filecmp.cmp(os.path.join(source, "m_padding.bin"), os.path.join(output, "m_padding.bin"), shallow=False)
    print(f"\nSEED SIGKILL: killed mid-copy={killed_mid_copy}; the retry resumed at 40 and stopped at 45")
