"""The project's one version and its licence: every place that spells the version agrees with
`estimator_lib.__version__` (pyproject reads it; images, docs and help texts only quote it)."""

from __future__ import annotations

import os
import re
import tomllib

import estimator_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Kept byte for byte as their authors wrote them, or made by tools and tests, not by us.
SKIPPED_FOLDERS = {".git", ".venvs", "runs", "local_pipeline_root", "__pycache__", "node_modules",
                   os.path.join("tests", "migrate", "data"), os.path.join("tests", "migrate", "programs"),
                   os.path.join("tests", "fixtures")}
TEXT_SUFFIXES = (".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".cfg", ".txt", ".json")
# A version as the project spells it next to its own names: an image tag (estimator-lib:X.Y.Z,
# estimator-lib-tpu:X.Y.Z) or the Cloud Build substitution (_VERSION=X.Y.Z).
QUOTED_VERSION = re.compile(r"(?:estimator-lib(?:-gpu|-tpu)?:|_VERSION=)(\d+\.\d+\.\d+[\w.+-]*)")


def _project_text_files():
    for directory, folders, names in os.walk(REPO):
        relative = os.path.relpath(directory, REPO)
        folders[:] = [f for f in folders if os.path.normpath(os.path.join(relative, f)) not in SKIPPED_FOLDERS
                      and f not in SKIPPED_FOLDERS and not f.endswith(".egg-info")]
        for name in names:
            if name.endswith(TEXT_SUFFIXES) or name.startswith("Dockerfile"):
                yield os.path.join(directory, name)


def test_every_quoted_version_is_the_package_version():
    stale, quoting = [], set()
    for path in _project_text_files():
        if os.path.basename(path) == "CHANGELOG.md":  # the history names earlier versions on purpose
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                for version in QUOTED_VERSION.findall(line):
                    quoting.add(os.path.relpath(path, REPO))
                    if version != estimator_lib.__version__:
                        stale.append(f"{os.path.relpath(path, REPO)}:{number}: {version}")
    # The scan reaches the places that quote the version (so it cannot pass by reading nothing).
    assert {"containers/Dockerfile", "containers/Dockerfile.tpu", "containers/cloudbuild.yaml",
            "docs/pipelines.md", "components/train/component.yaml"} <= quoting
    assert not stale, (
        f"these places quote a version other than estimator_lib.__version__ = {estimator_lib.__version__!r}; "
        "update them with the version: " + "; ".join(stale)
    )


def test_the_pattern_reads_a_stale_tag():
    old = "0.0" + ".9"  # split, so that this file does not quote a stale version itself
    line = f"docker build -t us-docker.pkg.dev/p/estimator-lib/estimator-lib-tpu:{old} --substitutions _VERSION={old}"
    assert QUOTED_VERSION.findall(line) == [old, old]


def test_pyproject_reads_the_version_and_the_changelog_names_it():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        project = tomllib.load(handle)
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "estimator_lib.__version__"}
    with open(os.path.join(REPO, "CHANGELOG.md")) as handle:
        headings = re.findall(r"^## (\S+)", handle.read(), re.MULTILINE)
    assert estimator_lib.__version__ in headings, f"CHANGELOG.md has no '## {estimator_lib.__version__}' section"


def test_the_licence_is_the_apache_2_0_text_pyproject_declares():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        declared = tomllib.load(handle)["project"]["license"]
    assert declared == {"text": "Apache-2.0"}
    with open(os.path.join(REPO, "LICENSE")) as handle:
        text = handle.read()
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert len(re.findall(r"^\s+\d\. [A-Z]", text, re.MULTILINE)) == 9  # sections 1-9, none left out


def test_the_test_command_lints_first_and_ci_runs_everything():
    with open(os.path.join(REPO, "scripts", "test.sh")) as handle:
        script = handle.read()
    commands = [line.strip() for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    lint = commands.index("python -m ruff check .")
    first_pytest = next(i for i, command in enumerate(commands) if "-m pytest" in command)
    assert lint < first_pytest  # `set -e` above: a finding stops the run before any test
    assert "set -euo pipefail" in commands[:lint]
    fast = [command for command in commands if '-m "not slow" "$@"' in command]  # --fast: the local selection
    assert len(fast) == 1 and fast[0].startswith("exec python -m pytest -q")
    assert 'parallel=(-n "$workers" --dist loadfile)' in commands  # the whole suite on pytest-xdist workers
    with open(os.path.join(REPO, ".ci", "run")) as handle:
        ci = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert ci[-1] == "bash scripts/test.sh"  # no arguments: lint, every test, and the TF 2.20 run
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        markers = tomllib.load(handle)["tool"]["pytest"]["ini_options"]["markers"]
    assert any(marker.startswith("slow:") for marker in markers)
