"""The upgrade tool runs where TensorFlow is not installed (the [migrate] extra has no TensorFlow):
a subprocess whose import system refuses every `tensorflow*` module runs both entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

BLOCKER = textwrap.dedent(
    """
    import sys

    class NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorflow_estimator", "keras", "tf_keras"):
                raise ImportError(f"blocked for this test: {name}")
            return None

    sys.meta_path.insert(0, NoTensorFlow())
    """
)

SOURCE = textwrap.dedent(
    """\
    import tensorflow as tf

    flags = tf.flags


    def model_fn(features, labels, mode, params):
        net = tf.layers.dense(features, 4, name="hidden")
        optimizer = tf.contrib.tpu.CrossShardOptimizer(tf.train.GradientDescentOptimizer(0.1))
        return tf.contrib.tpu.TPUEstimatorSpec(mode, loss=tf.reduce_mean(net), train_op=optimizer.minimize(net))
    """
)


def run_blocked(code: str, cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300,
    )


def test_blocker_really_blocks(tmp_path):
    result = run_blocked("import tensorflow\n", str(tmp_path))
    assert result.returncode != 0 and "blocked for this test: tensorflow" in result.stderr


def test_upgrade_runs_without_tensorflow(tmp_path):
    program = tmp_path / "trainer.py"
    program.write_text(SOURCE)
    result = run_blocked(
        f"""
        import sys
        import estimator_lib.migrate
        from estimator_lib.migrate.cli import main
        from estimator_kfp.pipelines.cli import main as pipelines_main
        assert pipelines_main(["upgrade", {str(program)!r}, "--check"]) == 1
        status = main([{str(program)!r}, "--in-place"])
        assert not any(name.split(".")[0] == "tensorflow" for name in sys.modules), "tensorflow was imported"
        sys.exit(status)
        """,
        str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    upgraded = program.read_text()
    assert "import tensorflow.compat.v1 as tf\nimport estimator_lib\n" in upgraded
    assert 'estimator_lib.layers.dense(features, 4, name="hidden")' in upgraded
    assert "estimator_lib.tpu.CrossShardOptimizer(tf.train.GradientDescentOptimizer(0.1))" in upgraded
    assert "1 file(s) scanned, 1 changed" in result.stdout
