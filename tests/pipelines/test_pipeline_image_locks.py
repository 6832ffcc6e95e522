"""The image lock files (containers/locks/): each Dockerfile installs from its lock with --require-hashes, and
each lock agrees with pyproject.toml (every required package present, at a version inside its range)."""

import os
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from test_pipeline_containers import REPO, _instructions, _pyproject, installed_lock, lock_extras

LOCKS = {"cpu": ("cpu", {}), "gpu": ("cpu", {"TF_EXTRA": "gpu"}), "tpu": ("tpu", {})}  # image -> (Dockerfile, args)


def _pins(lock_path):
    """name -> (version, hashes) of every `name==version` entry of a lock file."""
    with open(os.path.join(REPO, lock_path)) as handle:
        text = handle.read()
    pins = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\;]+)", entry)
        if match:
            hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", entry)
            pins[canonicalize_name(match.group(1))] = (match.group(2), hashes)
    return pins


def _required(extras):
    """What an image needs: the project's dependencies, the extras' and the build requirements."""
    project = _pyproject()["project"]
    items = list(project["dependencies"])
    for extra in sorted(extras):
        items += project["optional-dependencies"][extra]
    with open(os.path.join(REPO, "containers", "locks", "build.in")) as handle:
        items += [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    return [Requirement(item) for item in items]


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_each_image_installs_its_lock_with_hashes_and_nothing_else(image):
    dockerfile, args = LOCKS[image]
    lock = installed_lock(dockerfile, args)
    assert lock == f"containers/locks/{image}.txt"
    (install,) = [arg for keyword, arg in _instructions(dockerfile) if keyword == "RUN" and "pip install" in arg]
    commands = [command.strip() for command in install.split("&&")]
    assert "pip install --require-hashes --no-deps -r requirements.lock" in commands
    assert "pip install --no-deps --no-build-isolation ." in commands  # the project itself resolves nothing
    assert all("--no-deps" in command for command in commands if command.startswith("pip install"))


@pytest.mark.parametrize("image", sorted(LOCKS))
def test_each_lock_agrees_with_the_pyproject_ranges(image):
    lock = f"containers/locks/{image}.txt"
    extras = lock_extras(lock)
    assert extras == {image, "pipelines"}
    pins = _pins(lock)
    assert all(hashes for _, hashes in pins.values()), [name for name, (_, hashes) in pins.items() if not hashes]
    for requirement in _required(extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} has no {requirement.name}; regenerate it with containers/lock_images.sh"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {requirement.name}=={version}, outside pyproject's {requirement}; "
            "regenerate it with containers/lock_images.sh"
        )


def test_the_gpu_lock_carries_the_cuda_libraries_of_tensorflow_and_cuda():
    pins = _pins("containers/locks/gpu.txt")
    assert "tensorflow" in pins and "tensorflow-cpu" not in pins
    assert any(name.startswith("nvidia-cudnn") for name in pins)


def test_the_lock_script_resolves_for_the_base_images_platform():
    with open(os.path.join(REPO, "containers", "lock_images.sh")) as handle:
        script = handle.read()
    (base,) = {arg for name in ("cpu", "tpu") for keyword, arg in _instructions(name) if keyword == "FROM"}
    assert base.startswith("python:3.11.") and "-bookworm" in base  # Debian 12: glibc 2.36
    assert "--python-version 3.11" in script and "--python-platform x86_64-manylinux_2_36" in script
    assert "--generate-hashes" in script and "for image in cpu gpu tpu" in script
