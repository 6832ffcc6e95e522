"""The estimator-pipelines command line: help with examples, compile, and errors without tracebacks."""

import importlib.util

import pytest
import yaml
from estimator_kfp.pipelines import cli


@pytest.mark.parametrize("command", ["run-local", "compile", "submit", "schedule", "tpu-smoke"])
def test_every_subcommand_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "example:" in text and f"estimator-pipelines {command}" in text


def test_top_level_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for command in ("run-local", "compile", "submit", "schedule", "tpu-smoke", "upgrade"):
        assert command in text


def test_compile_writes_the_tpu_pipeline(tmp_path, capsys):
    output = tmp_path / "training-tpu.yaml"
    assert cli.main(["compile", "--target", "tpu", "--tpu-machine-type", "ct5lp-hightpu-8t", "--tpu-topology", "2x4",
                     "--tpu-image", "example.com/tpu:1", "--image", "example.com/cpu:1", "--output", str(output)]) == 0
    assert f"Compiled the tpu pipeline to {output}" in capsys.readouterr().out
    document = yaml.safe_load(output.read_text())
    parameters = document["root"]["inputDefinitions"]["parameters"]
    assert parameters["machine_type"]["defaultValue"] == "ct5lp-hightpu-8t"
    assert parameters["tpu_topology"]["defaultValue"] == "2x4"
    assert parameters["training_image"]["defaultValue"] == "example.com/tpu:1"
    assert document["deploymentSpec"]["executors"]["exec-evaluate"]["container"]["image"] == "example.com/cpu:1"


def test_compile_errors_are_one_line_messages(tmp_path, capsys):
    assert cli.main(["compile", "--target", "tpu", "--tpu-topology", "big", "--output", str(tmp_path / "x.yaml")]) == 2
    assert "error: tpu_topology must be chips per dimension such as '2x2'" in capsys.readouterr().err
    assert cli.main(["run-local", "--param", "threshold=high", "--pipeline-root", str(tmp_path)]) == 2
    assert "--param threshold must be a number; received 'high'" in capsys.readouterr().err


def test_upgrade_delegates_to_the_migration_tool(capsys):
    if importlib.util.find_spec("estimator_lib.migrate.cli") is None:
        assert cli.main(["upgrade", "--help"]) == 2
        assert "the upgrade tool (estimator_lib.migrate.cli) cannot be imported" in capsys.readouterr().err
        return
    assert cli.main(["upgrade", "--help"]) == 0
    assert "usage: estimator-pipelines upgrade" in capsys.readouterr().out


def test_run_local_with_a_wrong_model_reference_fails_with_the_fix(tmp_path, capsys):
    code = cli.main(["run-local", "--pipeline-root", str(tmp_path), "--model-ref", "no_such_pkg_xyz.model"])
    assert code == 1
    captured = capsys.readouterr()
    assert "error: the local pipeline run failed" in captured.err and "Inner task failed: 'train'" in captured.err
    assert "cannot import module 'no_such_pkg_xyz.model'" in captured.out


def test_a_malformed_label_is_named_in_full(capsys):
    """The error survives the CLI's secret redaction intact (it masks credential-shaped values only)."""
    from estimator_kfp.pipelines import cli

    assert cli.main(["tpu-smoke", "--label", "bad"]) != 0
    assert "--label must look like name=value (e.g. team=ml); received 'bad'." in capsys.readouterr().err
