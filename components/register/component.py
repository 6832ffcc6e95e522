"""KFP declaration of the register bridge: export's SavedModel -> an UnmanagedContainerModel for ModelUploadOp."""


from google_cloud_pipeline_components.types.artifact_types import (
    UnmanagedContainerModel,
)
from kfp import dsl
from kfp.dsl import Input, Model, Output

from .. import images


def register(
    saved_model: Input[Model],
    unmanaged_model: Output[UnmanagedContainerModel],
    serving_image: str = "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest",  # task.TF_SERVING_IMAGE
):
    """Points an UnmanagedContainerModel at the exported SavedModel, to upload with GCPC's ModelUploadOp.

    Args:
        saved_model: The export step's SavedModel (saved_model.pb at its root); not copied.
        unmanaged_model: Output: URI = the SavedModel, metadata containerSpec.imageUri = serving_image.
        serving_image: Serving container, by default Vertex's prebuilt TensorFlow image.
    """
    from estimator_kfp.components.register.task import container_model_metadata

    metadata = container_model_metadata(saved_model.path, serving_image)
    unmanaged_model.uri = saved_model.uri
    unmanaged_model.metadata.update(metadata)
    print(f"[register] {saved_model.uri} served by {serving_image}", flush=True)


def build(image: str = images.DEFAULT_IMAGE):
    """The register bridge running in `image`."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(register)


register_op = build()
