"""The upgrade rewrites each sample in tests/migrate/data/<case>/input.py exactly into expected.py.

Each case also stores the report the tool prints (expected_report.txt). To accept a deliberate change
of the tool's output, regenerate with `python tests/migrate/regenerate.py` and review the diff.
"""

from __future__ import annotations

import os

import pytest

from estimator_lib.migrate.rewrite import UpgradeError, upgrade_source

DATA = os.path.join(os.path.dirname(__file__), "data")
CASES = sorted(
    name for name in os.listdir(DATA) if os.path.exists(os.path.join(DATA, name, "expected.py"))
)


def _read(case: str, name: str) -> str:
    with open(os.path.join(DATA, case, name), encoding="utf-8", newline="") as handle:
        return handle.read()


def test_every_import_form_has_a_case():
    assert set(CASES) >= {
        "tf_attribute_chains",
        "compat_v1_alias",
        "from_imports",
        "tensorflow_estimator_imports",
        "contrib_tpu",
        "no_changes",
    }


@pytest.mark.parametrize("case", CASES)
def test_output_matches_byte_for_byte(case):
    result = upgrade_source(_read(case, "input.py"), "input.py")
    assert result.upgraded == _read(case, "expected.py")


@pytest.mark.parametrize("case", CASES)
def test_report_matches(case):
    result = upgrade_source(_read(case, "input.py"), "input.py")
    assert "".join(line + "\n" for line in result.report_lines()) == _read(case, "expected_report.txt")


@pytest.mark.parametrize("case", CASES)
def test_upgrade_is_idempotent_and_output_compiles(case):
    expected = _read(case, "expected.py")
    compile(expected, f"{case}/expected.py", "exec")
    again = upgrade_source(expected, "expected.py")
    assert again.upgraded == expected
    assert again.changes == ()


def test_no_changes_case_is_untouched():
    source = _read("no_changes", "input.py")
    result = upgrade_source(source, "input.py")
    assert result.upgraded == source and not result.changed
    assert result.changes == () and result.unmapped == ()


def test_windows_line_endings_and_semicolons_survive():
    source = "import tensorflow as tf\r\nx = 1; est = tf.estimator.Estimator  # keep me\r\n"
    result = upgrade_source(source)
    assert result.upgraded == (
        "import tensorflow as tf\r\nimport estimator_lib\r\nx = 1; est = estimator_lib.Estimator  # keep me\r\n"
    )


def test_report_lines_name_file_and_line():
    result = upgrade_source("import tensorflow as tf\n\nhook = tf.estimator.StopAtStepHook(5)\n", "job/train.py")
    assert result.report_lines() == [
        "job/train.py:1: (added) -> import estimator_lib",
        "job/train.py:3: tf.estimator.StopAtStepHook -> estimator_lib.StopAtStepHook",
    ]


def test_removed_import_keeps_its_comments():
    source = "# header\nimport tensorflow_estimator as tfe  # old package\n\nx = tfe.estimator.RunConfig()\n"
    result = upgrade_source(source)
    assert result.upgraded == "# header\n# old package\nimport estimator_lib\n\nx = estimator_lib.RunConfig()\n"


def test_block_left_empty_gets_pass():
    source = "try:\n    import tensorflow_estimator\nexcept ImportError:\n    pass\n"
    assert upgrade_source(source).upgraded == "try:\n    pass\nexcept ImportError:\n    pass\n"


def test_unparsable_source_is_a_clear_error():
    with pytest.raises(UpgradeError, match=r"broken\.py: cannot parse as Python .*fix the syntax first"):
        upgrade_source("import tensorflow\ndef f(:\n", "broken.py")


def test_source_must_be_text():
    with pytest.raises(TypeError, match="expects the file's text as str, received bytes"):
        upgrade_source(b"import tensorflow")


def test_import_goes_after_the_header_when_tensorflow_is_imported_in_functions():
    source = '"""Doc."""\nimport os\ndef f():\n    import tensorflow as tf\n    return tf.estimator.Estimator\n'
    assert upgrade_source(source).upgraded == (
        '"""Doc."""\nimport os\nimport estimator_lib\n\ndef f():\n    import tensorflow as tf\n'
        "    return estimator_lib.Estimator\n"
    )


def test_name_imported_twice_is_reported_once():
    source = (
        "try:\n    import tensorflow.compat.v1 as tf\nexcept ImportError:\n    import tensorflow as tf\n\n"
        "config = tf.estimator.RunConfig()\n"
    )
    result = upgrade_source(source, "f.py")
    assert result.upgraded.endswith("config = estimator_lib.RunConfig()\n")
    assert result.report_lines() == [
        "f.py:1: (added) -> import estimator_lib",
        "f.py:6: tf.estimator.RunConfig -> estimator_lib.RunConfig",
    ]


def test_old_import_keeping_the_name_estimator_lib_is_reported():
    source = (
        "import tensorflow as tf\n"
        "from tensorflow_estimator.python.estimator import estimator as estimator_lib\n"
        "x = estimator_lib._private_helper\ny = tf.estimator.RunConfig()\n"
    )
    result = upgrade_source(source, "f.py")
    assert any("binds the name estimator_lib" in line for line in result.report_lines())
