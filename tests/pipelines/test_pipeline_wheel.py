"""The built wheel (not an editable install) in a fresh venv, used from a repo with its own components/, pipelines/.

The venv sees this environment's site-packages (`--system-site-packages`) so TensorFlow and kfp are not
downloaded again, and the wheel goes in with `--no-deps --ignore-installed` (the environment may hold an
editable install of the same distribution).
"""

import glob
import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "estimator_lib", "estimator_kfp", "components", "pipelines",
           "example_models")
NAMESPACE_FOLDERS = {"components": "estimator_kfp/components", "pipelines": "estimator_kfp/pipelines",
                     "example_models": "estimator_kfp/example_models"}

USER_SCRIPT = textwrap.dedent('''
    import json, sys
    import components.train.component as user_train        # the user's own packages ...
    import pipelines.nightly as user_pipeline
    from estimator_kfp.components.train.component import build as build_train   # ... and ours, side by side
    from estimator_kfp.pipelines.training_pipeline import compile_pipeline
    import estimator_kfp, estimator_lib
    from kfp import components, dsl

    train = build_train("example.com/estimator-lib:1")
    shipped = components.load_component_from_file(
        estimator_kfp.__path__[0] + "/components/evaluate/component.yaml")

    @dsl.pipeline(name="theirs")
    def theirs(data_uri: str):
        data = dsl.importer(artifact_uri=data_uri, artifact_class=dsl.Dataset).output
        trained = train(model_ref=user_pipeline.MODEL, train_dataset=data)
        shipped(model_ref=user_pipeline.MODEL, model=trained.outputs["model"])

    from kfp import compiler
    compiler.Compiler().compile(theirs, sys.argv[1] + "/theirs.yaml")
    compile_pipeline("tpu", sys.argv[1] + "/tpu.yaml")
    print(json.dumps({"user": [user_train.NAME, user_pipeline.NAME], "ours": estimator_kfp.__path__[0],
                      "lib": estimator_lib.__file__}))
''')


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin = os.path.join(REPO, name)
        if os.path.isdir(origin):
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(origin, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out),
                    str(source)], check=True, capture_output=True, timeout=300)
    (path,) = glob.glob(str(out / "*.whl"))
    return path


def test_the_wheel_holds_every_package_under_one_namespace(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    import estimator_lib

    dist_info = f"estimator_lib-{estimator_lib.__version__}.dist-info"
    assert f"{dist_info}/METADATA" in names  # the one version source
    # The licence travels with the wheel (dist-info/LICENSE, or dist-info/licenses/LICENSE on newer setuptools).
    (licence,) = [name for name in names if name in (f"{dist_info}/LICENSE", f"{dist_info}/licenses/LICENSE")]
    with open(os.path.join(REPO, "LICENSE"), "rb") as handle:
        assert zipfile.ZipFile(wheel).read(licence) == handle.read()
    assert tops == {"estimator_lib", "estimator_kfp"}  # no top-level components / pipelines / example_models
    for folder in ("estimator_lib", "components", "pipelines", "example_models"):
        for init in glob.glob(os.path.join(REPO, folder, "**", "__init__.py"), recursive=True):
            relative = os.path.relpath(init, REPO)
            top = relative.split("/")[0]
            expected = relative.replace(top, NAMESPACE_FOLDERS.get(top, top), 1)
            assert expected in names, f"{expected} is missing from the wheel: add its package to pyproject.toml"
    for component in ("train", "evaluate", "export", "predict", "gate_report", "register"):
        assert f"estimator_kfp/components/{component}/component.yaml" in names


@pytest.mark.slow
def test_a_repo_with_its_own_components_and_pipelines_imports_ours_from_the_installed_wheel(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", "-q", wheel],
                   check=True, capture_output=True, timeout=300)
    user = tmp_path / "their_repo"
    for package, body in (("components", "NAME = 'their train'\n"), ("pipelines", "NAME = 'their pipeline'\n")):
        (user / package / "train").mkdir(parents=True)
        (user / package / "__init__.py").write_text("")
        (user / package / "train" / "__init__.py").write_text("")
        (user / package / "train" / "component.py").write_text(body)
    (user / "pipelines" / "nightly.py").write_text("NAME = 'their pipeline'\nMODEL = 'their_pkg.model'\n")
    (user / "use_ours.py").write_text(USER_SCRIPT)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run([python, "use_ours.py", str(tmp_path)], cwd=user, env=environment, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["user"] == ["their train", "their pipeline"]
    assert report["ours"].startswith(str(venv)) and report["lib"].startswith(str(venv))
    assert (tmp_path / "theirs.yaml").exists() and (tmp_path / "tpu.yaml").exists()
    cli = subprocess.run([str(venv / "bin" / "estimator-pipelines"), "--help"], cwd=user, env=environment,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0 and "run-local" in cli.stdout


def test_every_source_package_is_listed_in_pyproject():
    """pyproject.toml lists its packages by name (the namespace mapping needs that): a new subpackage left
    out would be missing from the wheel and the images, which only the slow wheel test would notice."""
    import tomllib

    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        listed = set(tomllib.load(handle)["tool"]["setuptools"]["packages"])
    found = set()
    for top, installed_as in (("estimator_lib", "estimator_lib"), ("components", "estimator_kfp.components"),
                              ("pipelines", "estimator_kfp.pipelines"),
                              ("example_models", "estimator_kfp.example_models")):
        for init in glob.glob(os.path.join(REPO, top, "**", "__init__.py"), recursive=True):
            relative = os.path.relpath(os.path.dirname(init), os.path.join(REPO, top))
            found.add(installed_as if relative == "." else installed_as + "." + relative.replace(os.sep, "."))
    missing = sorted(found - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
