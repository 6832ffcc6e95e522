"""A checkpoint save on a full disk ends in an OSError naming the directory, the free space and the size a
checkpoint needs, instead of TensorFlow's graph traceback."""

from __future__ import annotations

import errno
import os
import subprocess

import pytest
import tensorflow as tf

import estimator_lib as est
from estimator_lib import disk_space

v1 = tf.compat.v1


def _model_fn(features, labels, mode):
    w = v1.get_variable("w", [200, 200])  # 160,000 bytes a checkpoint
    loss = tf.reduce_mean(tf.matmul(features, w))
    train_op = v1.train.GradientDescentOptimizer(0.1).minimize(loss, v1.train.get_global_step())
    return est.EstimatorSpec(mode, loss=loss, train_op=train_op)


def _input_fn():
    return tf.data.Dataset.from_tensors(tf.ones([1, 200])).repeat()


@pytest.fixture
def small_disk(tmp_path):
    """A real 200 KB file system (tmpfs); needs the right to mount, which CI's root has."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount_point)],
                            capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip()}")
    yield str(mount_point)
    # Lazy: a summary writer thread of the failed run may still hold a file there.
    subprocess.run(["umount", "-l", str(mount_point)], check=True, timeout=30)


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
