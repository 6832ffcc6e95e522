"""Optional serving steps after export: Vertex Model Registry upload, batch prediction, an online endpoint.

The register bridge (components/register) turns export's `system.Model` into the
`google.UnmanagedContainerModel` GCPC's ModelUploadOp takes; ModelBatchPredictOp, or EndpointCreateOp +
ModelDeployOp, then use the uploaded `google.VertexModel`. They run as the pipeline's service account with
its CMEK key, in the pipeline's own region (GCPC's ops default to us-central1 otherwise).
"""

from __future__ import annotations

from typing import Any

from kfp import dsl

from ..components.register.task import TF_SERVING_IMAGE
from .training_job import ENCRYPTION_KEY_PLACEHOLDER, SERVICE_ACCOUNT_PLACEHOLDER

# (name, type, default) of the pipeline parameters the serving steps add.
REGISTRY_PARAMETERS = [("model_display_name", str, "estimator-model"), ("serving_image", str, TF_SERVING_IMAGE)]
BATCH_PREDICT_PARAMETERS = [("vertex_predict_source", str, ""), ("vertex_predict_machine_type", str, "n1-standard-4")]
ENDPOINT_PARAMETERS = [("endpoint_display_name", str, "estimator-endpoint"),
                       ("endpoint_machine_type", str, "n1-standard-4"), ("endpoint_min_replicas", int, 1),
                       ("endpoint_max_replicas", int, 1)]
# The region the PipelineJob runs in, filled by Vertex (google_cloud_pipeline_components._placeholders).
LOCATION_PLACEHOLDER = "{{$.pipeline_google_cloud_location}}"
BATCH_PREDICT_DESTINATION = f"{dsl.PIPELINE_ROOT_PLACEHOLDER}/{dsl.PIPELINE_JOB_ID_PLACEHOLDER}/vertex-batch-predict"


def add_serving(p: dict[str, Any], saved_model: Any, *, register_op: Any, batch_predict: bool,
                deploy_endpoint: bool = False) -> Any:
    """Uploads the SavedModel to the Model Registry (then batch-predicts with it and/or deploys it to a new
    endpoint); returns the upload task."""
    from google_cloud_pipeline_components.v1.batch_predict_job import (
        ModelBatchPredictOp,
    )
    from google_cloud_pipeline_components.v1.model import ModelUploadOp

    bridge = register_op(saved_model=saved_model, serving_image=p["serving_image"]).set_display_name("register")
    upload = ModelUploadOp(
        display_name=p["model_display_name"],
        unmanaged_container_model=bridge.outputs["unmanaged_model"],
        encryption_spec_key_name=ENCRYPTION_KEY_PLACEHOLDER,
        location=LOCATION_PLACEHOLDER,
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
            location=LOCATION_PLACEHOLDER,
        ).set_display_name("vertex-batch-predict")
    if deploy_endpoint:
        add_endpoint(p, upload.outputs["model"])
    return upload


def add_endpoint(p: dict[str, Any], model: Any) -> Any:
    """Creates an endpoint and deploys the uploaded model on it with all of its traffic; returns the deploy task.

    Dedicated resources (machine type and replica range are pipeline parameters), so a run or a schedule can
    size serving without recompiling. The endpoint gets the pipeline's CMEK key and the job's labels.
    """
    from google_cloud_pipeline_components.v1.endpoint import (
        EndpointCreateOp,
        ModelDeployOp,
    )

    endpoint = EndpointCreateOp(
        display_name=p["endpoint_display_name"],
        encryption_spec_key_name=ENCRYPTION_KEY_PLACEHOLDER,
        location=LOCATION_PLACEHOLDER,
        **({"labels": p["job_labels"]} if "job_labels" in p else {}),
    ).set_display_name("create-endpoint")
    return ModelDeployOp(
        model=model,
        endpoint=endpoint.outputs["endpoint"],
        deployed_model_display_name=p["model_display_name"],
        # "0" is the model being deployed: it takes all of the new endpoint's traffic.
        traffic_split={"0": 100},
        dedicated_resources_machine_type=p["endpoint_machine_type"],
        dedicated_resources_min_replica_count=p["endpoint_min_replicas"],
        dedicated_resources_max_replica_count=p["endpoint_max_replicas"],
        service_account=SERVICE_ACCOUNT_PLACEHOLDER,
    ).set_display_name("deploy-model")
