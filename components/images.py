"""The container images the components run in: one place to name them, one place to override them.

Override without editing code: set `ESTIMATOR_LIB_IMAGE` / `ESTIMATOR_LIB_GPU_IMAGE` / `ESTIMATOR_LIB_TPU_IMAGE` before importing the
components, or pass `--image` / `--gpu-image` / `--tpu-image` to `estimator-pipelines compile`.
"""

from __future__ import annotations

import os

# Built from containers/Dockerfile (CPU, or GPU with the `gpu` build argument) and containers/Dockerfile.tpu.
_DEFAULT_REPOSITORY = "us-docker.pkg.dev/your-project/estimator-lib"
# The image named in the shipped component YAMLs (components/<name>/component.yaml), whatever the environment.
RELEASE_IMAGE = f"{_DEFAULT_REPOSITORY}/estimator-lib:0.1.0"
DEFAULT_IMAGE = os.environ.get("ESTIMATOR_LIB_IMAGE", RELEASE_IMAGE)
GPU_IMAGE = os.environ.get("ESTIMATOR_LIB_GPU_IMAGE", f"{_DEFAULT_REPOSITORY}/estimator-lib-gpu:0.1.0")
TPU_IMAGE = os.environ.get("ESTIMATOR_LIB_TPU_IMAGE", f"{_DEFAULT_REPOSITORY}/estimator-lib-tpu:0.1.0")


def check_image(image: str, *, name: str = "image") -> str:
    """Returns `image` when it looks like a container reference, else a ValueError saying what to pass."""
    if not isinstance(image, str) or not image.strip() or any(c.isspace() for c in image):
        raise ValueError(
            f"{name} must be a container image reference such as 'us-docker.pkg.dev/my-project/repo/"
            f"estimator-lib:0.1.0' (no spaces); received {name}={image!r}."
        )
    return image
