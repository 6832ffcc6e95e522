"""The container images the components run in: one place to name them, one place to override them.

Override without editing code: set `ESTIMATOR_LIB_IMAGE` / `ESTIMATOR_LIB_GPU_IMAGE` /
`ESTIMATOR_LIB_TPU_IMAGE` before importing the components, or pass `--image` / `--gpu-image` /
`--tpu-image` to `estimator-pipelines compile`.
"""

from __future__ import annotations

import ast
import importlib.util
import os


def package_version() -> str:
    """The project's one version (estimator_lib.__version__, which pyproject.toml also reads), without
    importing estimator_lib (and TensorFlow with it)."""
    spec = importlib.util.find_spec("estimator_lib")
    with open(spec.origin) as handle:
        module = ast.parse(handle.read())
    for node in module.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{spec.origin} defines no __version__; the image tags are taken from it.")


VERSION = package_version()
# Built from containers/Dockerfile (CPU, or GPU with the `gpu` build argument) and containers/Dockerfile.tpu.
_DEFAULT_REPOSITORY = "us-docker.pkg.dev/your-project/estimator-lib"
# The image named in the shipped component YAMLs (components/<name>/component.yaml), whatever the environment.
RELEASE_IMAGE = f"{_DEFAULT_REPOSITORY}/estimator-lib:{VERSION}"
DEFAULT_IMAGE = os.environ.get("ESTIMATOR_LIB_IMAGE", RELEASE_IMAGE)
GPU_IMAGE = os.environ.get("ESTIMATOR_LIB_GPU_IMAGE", f"{_DEFAULT_REPOSITORY}/estimator-lib-gpu:{VERSION}")
TPU_IMAGE = os.environ.get("ESTIMATOR_LIB_TPU_IMAGE", f"{_DEFAULT_REPOSITORY}/estimator-lib-tpu:{VERSION}")


def check_image(image: str, *, name: str = "image") -> str:
    """Returns `image` when it looks like a container reference, else a ValueError saying what to pass."""
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise ValueError(
            f"{name} must be a container image reference such as 'us-docker.pkg.dev/my-project/repo/"
            f"estimator-lib:0.1.0' (no spaces); received {name}={image!r}."
        )
    return image


def placeholder_images(text: str) -> list[str]:
    """The image references in `text` (a compiled pipeline) under the placeholder repository, sorted."""
    import re

    found = re.findall(re.escape(_DEFAULT_REPOSITORY) + r"/[A-Za-z0-9._/-]+(?::[A-Za-z0-9._-]+)?", text)
    return sorted(set(found))


def refuse_placeholder_images(text: str, *, where: str) -> None:
    """A ValueError when `where` names the placeholder images, which no registry serves."""
    found = placeholder_images(text)
    if found:
        raise ValueError(
            f"{where} runs steps in the placeholder image(s) {found}, which do not exist: Vertex would fail at "
            f"image pull. Build and push the images (containers/build_images.sh) and pass --image / --gpu-image / "
            f"--tpu-image (or set ESTIMATOR_LIB_IMAGE, ESTIMATOR_LIB_GPU_IMAGE, ESTIMATOR_LIB_TPU_IMAGE), or add "
            f"--allow-placeholder-image if this is intended (e.g. to inspect the YAML)."
        )
