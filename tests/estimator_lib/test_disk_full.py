"""A checkpoint save on a full disk ends in an OSError naming the directory, the free space and the size a
checkpoint needs, instead of TensorFlow's graph traceback."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess

import pytest
import tensorflow as tf

import estimator_lib as est
from estimator_lib import disk_space, preemption

v1 = tf.compat.v1


def _model_fn(features, labels, mode):
    w = v1.get_variable("w", [200, 200])  # 160,000 bytes a checkpoint
    loss = tf.reduce_mean(tf.matmul(features, w))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _input_fn():
    return tf.data.Dataset.from_tensors(tf.ones([1, 200])).repeat()


@contextlib.contextmanager
def _tmpfs(mount_point, size: str):
    """A real file system of `size` (tmpfs) at `mount_point`; needs the right to mount, which CI's root has."""
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    try:
        yield str(mount_point)
    finally:
        # Lazy: a summary writer thread of a failed run may still hold a file there.
        subprocess.run(["umount", "-l", str(mount_point)], check=True, timeout=30)


@pytest.fixture
def small_disk(tmp_path):
    """A real 200 KB file system."""
    with _tmpfs(tmp_path / "small", "200k") as path:
        yield path


def test_a_full_disk_names_the_directory_and_the_size_a_checkpoint_needs(small_disk):
    model_dir = os.path.join(small_disk, "model")
    with pytest.raises(OSError, match=r"The disk holding model_dir '.*/small/model' is full: a checkpoint of this "
                                      r"model needs about 160,00\d bytes .* bytes are free there") as caught:
        est.Estimator(_model_fn, model_dir=model_dir).train(_input_fn, max_steps=3)
    assert caught.value.errno == errno.ENOSPC
    assert isinstance(caught.value.__cause__, tf.errors.OpError)


def test_other_resource_errors_are_not_taken_for_a_full_disk():
    oom = tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor with shape [1000000000]")
    full = tf.errors.ResourceExhaustedError(None, None, "model.ckpt-0_temp/part-00000; No space left on device")
    assert not disk_space.is_disk_full(oom)
    assert disk_space.is_disk_full(full)
    assert not disk_space.is_disk_full(OSError("No space left on device"))  # not a save inside TensorFlow


def _big_model_fn(features, labels, mode):
    w = v1.get_variable("w", [200, 2000])  # 1.6 MB a checkpoint, much more than graph.pbtxt and the event file
    loss = tf.reduce_mean(tf.matmul(features, w))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


class _PreemptAtStart(v1.train.SessionRunHook):
    """Sends this process SIGTERM once the session exists: the retry is preempted again before its first step."""

    def after_create_session(self, session, coord):
        os.kill(os.getpid(), signal.SIGTERM)  # the training's handler turns it into the preemption flag


def _free_bytes(path: str) -> int:
    stats = os.statvfs(path)
    return stats.f_bavail * stats.f_frsize


@pytest.fixture
def four_mb_disk(tmp_path):
    with _tmpfs(tmp_path / "disk", "4m") as path:
        yield path


def test_a_restart_on_a_full_disk_does_not_rewrite_the_checkpoint_it_resumes_from(four_mb_disk):
    model_dir = os.path.join(four_mb_disk, "model")
    config = est.RunConfig(keep_checkpoint_max=1)
    est.Estimator(_big_model_fn, model_dir=model_dir, config=config).train(_input_fn, max_steps=3)
    checkpoint = os.path.join(model_dir, "model.ckpt-3.data-00000-of-00001")
    checkpoint_bytes, written_at = os.path.getsize(checkpoint), os.stat(checkpoint).st_mtime_ns
    # The disk fills up: room is left for graph.pbtxt and the event file, not for another copy of the checkpoint.
    os.remove(os.path.join(model_dir, "graph.pbtxt"))
    ballast = os.path.join(four_mb_disk, "ballast")
    with open(ballast, "wb") as handle:
        handle.write(b"\0" * (_free_bytes(four_mb_disk) - 600_000))
    assert _free_bytes(four_mb_disk) < checkpoint_bytes

    # The retry is preempted again during start-up: it stops at the step it restored, saving nothing, where
    # TensorFlow's saver would first rewrite model.ckpt-3 and fail on the full disk.
    with pytest.raises(preemption.TrainingPreempted) as caught:
        est.Estimator(_big_model_fn, model_dir=model_dir, config=config).train(
            _input_fn, hooks=[_PreemptAtStart()], max_steps=6)
    assert caught.value.global_step == 3
    assert os.stat(checkpoint).st_mtime_ns == written_at  # not rewritten
    assert os.path.isfile(os.path.join(model_dir, "graph.pbtxt"))  # still written at session creation

    os.remove(ballast)  # room again: the next retry trains on from step 3
    est.Estimator(_big_model_fn, model_dir=model_dir, config=config).train(_input_fn, max_steps=6)
    assert tf.train.latest_checkpoint(model_dir).endswith("model.ckpt-6")
    assert not os.path.exists(checkpoint)  # collected (keep_checkpoint_max=1) after step 6 was saved
