"""The Dockerfiles, checked without a Docker engine: what they copy and install, and that their entry points run."""

import os
import re
import shlex
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILES = {"cpu": "containers/Dockerfile", "tpu": "containers/Dockerfile.tpu"}


def _pyproject():
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)


def _instructions(name):
    """(keyword, argument) per Dockerfile instruction, with continuation lines joined."""
    with open(os.path.join(REPO, DOCKERFILES[name])) as handle:
        text = re.sub(r"\\\n", " ", handle.read())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [tuple(line.split(None, 1)) for line in lines]


def _args(name):
    return {key: value for key, _, value in (arg.partition("=") for kw, arg in _instructions(name) if kw == "ARG")}


def installed_lock(name, args=None):
    """The lock file the Dockerfile installs (build arguments substituted: their defaults, or `args`)."""
    values = {**_args(name), **(args or {})}
    for keyword, argument in _instructions(name):
        if keyword == "COPY" and "containers/locks/" in argument:
            source = argument.split()[0]
            for key, value in values.items():
                source = source.replace("${" + key + "}", value)
            return source
    raise AssertionError(f"{DOCKERFILES[name]} copies no lock file from containers/locks/")


def lock_extras(lock_path):
    """The extras a lock file was resolved for (its '# extras:' header line)."""
    with open(os.path.join(REPO, lock_path)) as handle:
        for line in handle:
            if line.startswith("# extras:"):
                return set(line.split(":", 1)[1].strip().split(","))
    raise AssertionError(f"{lock_path} has no '# extras:' line; regenerate it with containers/lock_images.sh")


def _installed_extras(name):
    return lock_extras(installed_lock(name))


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_image_copies_every_package_the_project_ships(name):
    copied = {source for keyword, arg in _instructions(name) if keyword == "COPY" for source in arg.split()[:-1]}
    setuptools = _pyproject()["tool"]["setuptools"]
    folders = setuptools["package-dir"]
    top_level = [package for package in setuptools["packages"] if "." not in package]
    shipped = {folders.get(package, package.replace(".", "/")) for package in top_level}
    shipped |= set(folders.values())
    assert shipped <= copied, f"{DOCKERFILES[name]} must COPY {sorted(shipped - copied)}"
    assert "pyproject.toml" in copied
    for source in copied:
        for key, value in _args(name).items():  # build arguments at their defaults
            source = source.replace("${" + key + "}", value)
        assert os.path.exists(os.path.join(REPO, source)), f"{DOCKERFILES[name]} copies {source}, which is missing"


def test_images_install_the_extras_the_tests_run_with():
    extras = _pyproject()["project"]["optional-dependencies"]
    assert _installed_extras("cpu") == {"cpu", "pipelines"}
    assert _installed_extras("tpu") == {"tpu", "pipelines"}
    assert _args("cpu")["TF_EXTRA"] == "cpu"
    tested = {item.split("[")[1].rstrip("]") for item in extras["all"]}
    tested = set().union(*(set(group.split(",")) for group in tested))
    # The component code paths the tests exercise need the same non-TensorFlow extras as the images.
    assert {"pipelines"} <= tested and {"cpu"} <= tested
    for requirement in map(Requirement, extras["pipelines"] + extras["cpu"]):
        installed = metadata.version(requirement.name)
        assert requirement.specifier.contains(installed, prereleases=True), (
            f"tests run with {requirement.name}=={installed}, outside the images' {requirement}"
        )


@pytest.mark.slow
def test_the_entry_points_the_images_check_run_here():
    commands = []
    for name in sorted(DOCKERFILES):
        checks = [arg for keyword, arg in _instructions(name)
                  if keyword == "RUN" and "pip install" not in arg and not arg.startswith("useradd")]
        assert checks, f"{DOCKERFILES[name]} runs no entry-point check"
        commands += [command.split(">")[0].strip() for check in checks for command in check.split("&&")]
    for command in dict.fromkeys(commands):  # both images check the same commands; run each once
        argv = shlex.split(command)
        if argv[0] == "python":
            argv[0] = sys.executable
        result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"{command!r} failed: {result.stderr[-2000:]}"


def test_the_component_images_default_to_the_project_images():
    from estimator_kfp.components import images

    import estimator_lib

    version = estimator_lib.__version__
    assert images.DEFAULT_IMAGE.endswith(f"/estimator-lib:{version}") or "ESTIMATOR_LIB_IMAGE" in os.environ
    assert images.TPU_IMAGE.endswith(f"/estimator-lib-tpu:{version}") or "ESTIMATOR_LIB_TPU_IMAGE" in os.environ


def _requirements(extra):
    items = _pyproject()["project"]["optional-dependencies"][extra]
    return {Requirement(item).name: Requirement(item) for item in items}


def test_the_tpu_extra_pins_tensorflow_tpu_and_the_libtpu_it_names():
    tpu = _requirements("tpu")
    assert str(tpu["tensorflow-tpu"].specifier) == "==2.20.0"
    assert str(tpu["libtpu"].specifier) == "==0.0.14"


@pytest.mark.parametrize("extra", ["cpu", "gpu", "tpu"])
def test_every_tensorflow_extra_keeps_protobuf_below_7(extra):
    # TF 2.20 + protobuf 7.x fails its first checkpoint save (MessageToString(float_format=...)).
    protobuf = _requirements(extra)["protobuf"]
    assert not protobuf.specifier.contains("7.36.2") and protobuf.specifier.contains("6.33.6")
    assert protobuf.specifier.contains("5.29.6")


def test_the_tf220_constraints_fit_the_cpu_extra():
    with open(os.path.join(REPO, "constraints", "tf220.txt")) as handle:
        pins = [Requirement(line) for line in handle if line.strip() and not line.startswith("#")]
    cpu = _requirements("cpu")
    for pin in pins:
        (version,) = [spec.version for spec in pin.specifier]
        assert cpu[pin.name].specifier.contains(version), f"{pin} is outside the cpu extra's {cpu[pin.name]}"
    assert {pin.name for pin in pins} == {"tensorflow-cpu", "tensorboard", "protobuf"}


def test_the_tpu_image_follows_vertex_recipe_for_libtpu_and_pjrt():
    from estimator_kfp.pipelines import tpu_machines

    env = {}
    for keyword, argument in _instructions("tpu"):
        if keyword == "ENV":
            env.update(pair.split("=", 1) for pair in argument.split())
    assert env["NEXT_PLUGGABLE_DEVICE_USE_C_API"] == "true"
    assert env["TF_PLUGGABLE_DEVICE_LIBRARY_PATH"] == tpu_machines.LIBTPU_PATH == "/lib/libtpu.so"
    (install,) = [arg for keyword, arg in _instructions("tpu") if keyword == "RUN" and "pip install" in arg]
    assert "shutil.copy(so, '/lib/libtpu.so')" in install and "test -s /lib/libtpu.so" in install


def test_the_readme_test_command_also_runs_the_library_tests_on_tf_2_20():
    with open(os.path.join(REPO, "scripts", "test.sh")) as handle:
        script = handle.read()
    assert "-c constraints/tf220.txt" in script
    assert re.search(r'"\$venv/bin/python" -m pytest -q -p no:cacheprovider .*tests/estimator_lib tests/tpu', script)
    assert "ESTIMATOR_LIB_EXPECT_TF=2.20. " in script  # tests/conftest.py stops a run on another TensorFlow


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_images_use_a_pinned_base_and_run_as_a_non_root_user(name):
    instructions = _instructions(name)
    (base,) = [argument for keyword, argument in instructions if keyword == "FROM"]
    assert re.match(r"^python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$", base), base
    keywords = [keyword for keyword, _ in instructions]
    defaults = dict(arg.split("=", 1) for keyword, arg in instructions if keyword == "ARG" and "=" in arg)
    users = [argument for keyword, argument in instructions if keyword == "USER"]
    assert users
    user = users[-1]
    if user.startswith("${") and user.endswith("}"):
        user = defaults[user[2:-1]]  # a build argument: its default is what a plain build runs as
    assert user not in ("root", "0")
    last_install = max(i for i, (k, a) in enumerate(instructions) if k == "RUN" and "pip install" in a)
    assert keywords.index("USER") > last_install  # installs as root, runs as the user


def test_cloud_build_builds_and_tags_the_three_images_with_the_package_version():
    import yaml
    from estimator_kfp.components import images

    with open(os.path.join(REPO, "containers", "cloudbuild.yaml")) as handle:
        config = yaml.safe_load(handle)
    tags = {}
    for step in config["steps"]:
        args = step["args"]
        tags[step["id"]] = (args[args.index("-f") + 1], args[args.index("-t") + 1],
                            next((a for a in args if a.startswith("TF_EXTRA=")), ""))
    names = {target: image.rsplit("/", 1)[1].split(":")[0] for target, image in
             (("cpu", images.RELEASE_IMAGE), ("gpu", images.GPU_IMAGE), ("tpu", images.TPU_IMAGE))
             if image.startswith(images._DEFAULT_REPOSITORY)}
    assert tags["cpu"] == ("containers/Dockerfile", "${_REPOSITORY}/estimator-lib:${_VERSION}", "TF_EXTRA=cpu")
    assert tags["gpu"] == ("containers/Dockerfile", "${_REPOSITORY}/estimator-lib-gpu:${_VERSION}", "TF_EXTRA=gpu")
    assert tags["tpu"] == ("containers/Dockerfile.tpu", "${_REPOSITORY}/estimator-lib-tpu:${_VERSION}", "")
    assert sorted(config["images"]) == sorted(tag for _, tag, _ in tags.values())
    for target, name in names.items():  # the images.py defaults name the same images
        assert tags[target][1].startswith("${_REPOSITORY}/" + name + ":")
    with open(os.path.join(REPO, "containers", "build_images.sh")) as handle:
        script = handle.read()
    command = re.search(r'VERSION=\$\((.*)\)', script).group(1)
    version = subprocess.run(["sh", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=60).stdout.strip()
    import estimator_lib

    assert version == estimator_lib.__version__
    assert "_VERSION=${VERSION}" in script and "--config containers/cloudbuild.yaml" in script
