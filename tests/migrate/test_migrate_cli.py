"""The `upgrade` command: modes, exit codes, output trees, and clear errors for bad paths."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from estimator_lib.migrate.cli import main

DATA = os.path.join(os.path.dirname(__file__), "data")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


@pytest.fixture
def tree(tmp_path) -> str:
    """A small project: a package with two sample files, a non-Python file and a cache dir."""
    root = tmp_path / "project"
    (root / "trainer").mkdir(parents=True)
    shutil.copy(os.path.join(DATA, "tf_attribute_chains", "input.py"), root / "trainer" / "task.py")
    shutil.copy(os.path.join(DATA, "no_changes", "input.py"), root / "trainer" / "plain.py")
    (root / "trainer" / "config.yaml").write_text("steps: 10\n")
    (root / "trainer" / "__pycache__").mkdir()
    (root / "trainer" / "__pycache__" / "stale.py").write_text("import tensorflow_estimator\n")
    return str(root)


def test_check_fails_when_changes_are_needed_and_writes_nothing(tree, capsys):
    before = _read(os.path.join(tree, "trainer", "task.py"))
    assert main([tree, "--check"]) == 1
    out = capsys.readouterr().out
    assert "task.py:13: tf.estimator.EstimatorSpec -> estimator_lib.EstimatorSpec" in out
    assert "cannot map tf.estimator.DNNClassifier: canned estimators are not shipped" in out
    assert "2 file(s) scanned, 1 would change" in out
    assert _read(os.path.join(tree, "trainer", "task.py")) == before


def test_check_passes_on_clean_code(tree, capsys):
    assert main([os.path.join(tree, "trainer", "plain.py"), "--check"]) == 0
    assert "0 would change, 0 change(s), 0 use(s) to port by hand" in capsys.readouterr().out


def test_check_counts_unmapped_uses_unless_told_not_to(tmp_path, capsys):
    path = tmp_path / "layers.py"
    path.write_text("import tensorflow as tf\ny = tf.compat.v1.layers.conv3d(None, 3, 3)\n")
    assert main([str(path), "--check"]) == 1
    assert main([str(path), "--check", "--ignore-unmapped"]) == 0
    assert "cannot map tf.compat.v1.layers.conv3d: estimator_lib.layers does not implement" in capsys.readouterr().out


def test_check_agrees_with_the_chosen_layers_route(tmp_path, capsys):
    """After `upgrade` with a route, `--check` with the same route is clean (the tf-keras route keeps
    tf.compat.v1.layers and does not report it; the default rewrites it to estimator_lib.layers)."""
    source = "import tensorflow.compat.v1 as tf\ny = tf.layers.dense(tf.ones([1, 2]), 3)\n"
    keras_route = tmp_path / "keras_route.py"
    keras_route.write_text(source)
    assert main([str(keras_route), "--check", "--v1-layers", "tf-keras"]) == 0
    default_route = tmp_path / "default_route.py"
    default_route.write_text(source)
    assert main([str(default_route), "--check"]) == 1
    assert main([str(default_route), "--in-place"]) == 0
    assert "estimator_lib.layers.dense(tf.ones([1, 2]), 3)" in default_route.read_text()
    assert main([str(default_route), "--check"]) == 0
    capsys.readouterr()
    assert main([str(keras_route), "--check", "--v1-layers", "keras"]) == 2
    assert "argument --v1-layers: invalid choice: 'keras'" in capsys.readouterr().err


def test_in_place_rewrites_then_check_is_clean_except_unmapped(tree, capsys):
    assert main([tree, "--in-place"]) == 0
    assert _read(os.path.join(tree, "trainer", "task.py")) == _read(
        os.path.join(DATA, "tf_attribute_chains", "expected.py")
    )
    assert main([tree, "--check", "--ignore-unmapped"]) == 0
    # Caches are never entered.
    assert _read(os.path.join(tree, "trainer", "__pycache__", "stale.py")) == "import tensorflow_estimator\n"


def test_output_tree_mirrors_input_and_leaves_it_alone(tree, tmp_path, capsys):
    out = str(tmp_path / "upgraded")
    before = _read(os.path.join(tree, "trainer", "task.py"))
    assert main([tree, "--output", out]) == 0
    assert _read(os.path.join(out, "trainer", "task.py")) == _read(
        os.path.join(DATA, "tf_attribute_chains", "expected.py")
    )
    assert _read(os.path.join(out, "trainer", "plain.py")) == _read(os.path.join(tree, "trainer", "plain.py"))
    assert _read(os.path.join(out, "trainer", "config.yaml")) == "steps: 10\n"
    assert not os.path.exists(os.path.join(out, "trainer", "__pycache__"))
    assert _read(os.path.join(tree, "trainer", "task.py")) == before
    assert "2 file(s) scanned, 1 changed" in capsys.readouterr().out


def test_single_file_to_output_file_or_directory(tree, tmp_path):
    source = os.path.join(tree, "trainer", "task.py")
    assert main([source, "-o", str(tmp_path / "new.py")]) == 0
    assert main([source, "-o", str(tmp_path) + os.sep]) == 0
    expected = _read(os.path.join(DATA, "tf_attribute_chains", "expected.py"))
    assert _read(str(tmp_path / "new.py")) == expected
    assert _read(str(tmp_path / "task.py")) == expected


def test_diff_prints_a_unified_diff_and_the_report_on_stderr(tree, capsys):
    source = os.path.join(tree, "trainer", "task.py")
    assert main([source, "--diff"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("--- ")
    assert "-import tensorflow as tf  # TensorFlow itself stays" not in captured.out
    assert "+import estimator_lib\n" in captured.out
    assert "-    estimator = tf . estimator . Estimator(model_fn=model_fn, config=config)\n" in captured.out
    assert "tf.estimator.ModeKeys -> estimator_lib.ModeKeys" in captured.err
    assert main([source, "--diff", "--check"]) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["/no/such/dir", "--check"], r"path does not exist: '/no/such/dir'\. Pass an existing \.py file or directory"),
        (["{tree}/trainer/config.yaml", "--check"], r"is not a Python file \(\.py\)"),
        (["{tree}", "--output", "{tree}/out"], r"is inside the input directory"),
        (["{tree}/trainer/task.py", "--output", "{tree}/trainer/task.py"], r"is the input file itself; use --in-place"),
        (["{tree}", "{tree}/trainer", "--output", "/tmp/x"], r"--output takes exactly one input path, received 2"),
        (["{tree}"], r"say what to do with the result: --in-place, --output OUT, --check or --diff"),
        (["{tree}", "--in-place", "--ignore-unmapped"], r"--ignore-unmapped only applies with --check"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(tree, capsys, argv, message):
    assert main([arg.format(tree=tree) for arg in argv]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_bad_flag_and_help_return_instead_of_exiting(capsys):
    assert main(["--no-such-flag"]) == 2
    assert main(["--help"]) == 0
    assert "estimator-pipelines upgrade" in capsys.readouterr().out


def test_unparsable_file_is_reported_and_others_still_processed(tmp_path, capsys):
    (tmp_path / "bad.py").write_text("import tensorflow as tf\ndef broken(:\n")
    (tmp_path / "good.py").write_text("import tensorflow as tf\nx = tf.estimator.RunConfig()\n")
    assert main([str(tmp_path), "--in-place"]) == 2
    captured = capsys.readouterr()
    assert "bad.py: cannot parse as Python" in captured.err
    assert "1 file(s) scanned, 1 changed, 2 change(s), 0 use(s) to port by hand, 1 file(s) failed." in captured.out
    assert "estimator_lib.RunConfig()" in _read(str(tmp_path / "good.py"))


def test_python_dash_m_entry_point(tree):
    process = subprocess.run(
        [sys.executable, "-m", "estimator_lib.migrate", os.path.join(tree, "trainer", "plain.py"), "--check"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert process.returncode == 0, process.stderr
    assert "python -m estimator_lib.migrate: 1 file(s) scanned, 0 would change" in process.stdout


def test_project_cli_delegates_upgrade(tree, capsys):
    from estimator_kfp.pipelines.cli import main as project_main

    assert project_main(["upgrade", os.path.join(tree, "trainer", "task.py"), "--check"]) == 1
    assert "estimator-pipelines upgrade: 1 file(s) scanned, 1 would change" in capsys.readouterr().out


def test_written_files_keep_the_source_permissions(tree, tmp_path):
    source = os.path.join(tree, "trainer", "task.py")
    os.chmod(source, 0o755)
    assert main([source, "--output", str(tmp_path / "task.py")]) == 0
    assert os.stat(tmp_path / "task.py").st_mode & 0o777 == 0o755
    assert main([source, "--in-place"]) == 0
    assert os.stat(source).st_mode & 0o777 == 0o755
    assert not [name for name in os.listdir(os.path.dirname(source)) if name.startswith(".upgrade-")]
