"""Optional serving steps after export: Vertex Model Registry upload and Vertex batch prediction (GCPC ops).

The register bridge (components/register) turns export's `system.Model` into the
`google.UnmanagedContainerModel` GCPC's ModelUploadOp takes; ModelBatchPredictOp then runs on the uploaded
`google.VertexModel`. Both run as the pipeline's service account with its CMEK key.
"""

from __future__ import annotations

from typing import Any

from kfp import dsl

from ..components.register.task import TF_SERVING_IMAGE
from .training_job import ENCRYPTION_KEY_PLACEHOLDER, SERVICE_ACCOUNT_PLACEHOLDER

# (name, type, default) of the pipeline parameters the serving steps add.
REGISTRY_PARAMETERS = [("model_display_name", str, "estimator-model"), ("serving_image", str, TF_SERVING_IMAGE)]
BATCH_PREDICT_PARAMETERS = [("vertex_predict_source", str, ""), ("vertex_predict_machine_type", str, "n1-standard-4")]
BATCH_PREDICT_DESTINATION = f"{dsl.PIPELINE_ROOT_PLACEHOLDER}/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}/vertex-batch-predict"


def add_serving(p: dict[str, Any], saved_model: Any, *, register_op: Any, batch_predict: bool) -> Any:
    """Uploads the SavedModel to the Model Registry (and batch-predicts with it); returns the upload task."""
    from google_cloud_pipeline_components.v1.batch_predict_job import (
        ModelBatchPredictOp,
    )
    from google_cloud_pipeline_components.v1.model import ModelUploadOp

    bridge = register_op(saved_model=saved_model, serving_image=p["serving_image"]).set_display_name("register")
    upload = ModelUploadOp(
        display_name=p["model_display_name"],
        unmanaged_container_model=bridge.outputs["unmanaged_model"],
        encryption_spec_key_name=ENCRYPTION_KEY_PLACEHOLDER,
        **({"labels": p["job_labels"]} if "job_labels" in p else {}),
    ).set_display_name("upload-model")
    if batch_predict:
        ModelBatchPredictOp(
            job_display_name="estimator-batch-predict",
            model=upload.outputs["model"],
            instances_format="jsonl",
            predictions_format="jsonl",
            gcs_source_uris=[p["vertex_predict_source"]],
            gcs_destination_output_uri_prefix=BATCH_PREDICT_DESTINATION,
            machine_type=p["vertex_predict_machine_type"],
            service_account=SERVICE_ACCOUNT_PLACEHOLDER,
            encryption_spec_key_name=ENCRYPTION_KEY_PLACEHOLDER,
        ).set_display_name("vertex-batch-predict")
    return upload
