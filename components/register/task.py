"""Register: the exported SavedModel as a `google.UnmanagedContainerModel`, the input of GCPC's ModelUploadOp.

ModelUploadOp (Vertex Model Registry) takes an UnmanagedContainerModel: an artifact whose URI is the
model directory and whose metadata names the serving container (`containerSpec.imageUri`). The export
step's output is a `system.Model`, which ModelUploadOp refuses at compile time; this step bridges the two
without copying the SavedModel.
"""

from __future__ import annotations

import os
from typing import Any

from .. import images

# The newest prebuilt TensorFlow serving image google-cloud-aiplatform lists
# (google.cloud.aiplatform.constants.prediction.TF_CONTAINER_URIS). It serves SavedModels exported by
# newer TensorFlow as long as they use no op it lacks; the estimator graphs here use core ops only.
TF_SERVING_IMAGE = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest"


def container_model_metadata(saved_model_dir: str, serving_image: str) -> dict[str, Any]:
    """The UnmanagedContainerModel metadata for a SavedModel directory, after checking it is one."""
    import tensorflow as tf

    images.check_image(serving_image, name="serving_image")
    if not tf.io.gfile.exists(os.path.join(saved_model_dir, "saved_model.pb")):
        raise ValueError(
            f"saved_model must be a SavedModel directory (with saved_model.pb at its root), such as the export "
            f"step's output; {saved_model_dir!r} has no saved_model.pb."
        )
    return {"containerSpec": {"imageUri": serving_image}}
