"""The TPU job planner's worker pool specs and the gate report, without KFP."""

import pytest

from components.gate_report.task import render_gate_report
from components.tpu_train_job.task import build_worker_pool_specs

SPEC_ARGS = {
    "image": "us-docker.pkg.dev/p/r/estimator-lib-tpu:1",
    "machine_type": "ct5lp-hightpu-4t",
    "tpu_topology": "2x2",
    "config_uri": "gs://b/run/job_config",
    "output_model_uri": "gs://b/run/model",
}


def test_worker_pool_specs_run_the_train_task_on_tpu_vms():
    (pool,) = build_worker_pool_specs(**SPEC_ARGS)
    assert pool["machine_spec"] == {"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "2x2"}
    assert pool["replica_count"] == 1
    assert pool["container_spec"] == {
        "image_uri": "us-docker.pkg.dev/p/r/estimator-lib-tpu:1",
        "command": ["python", "-m", "components.train.task"],
        "args": ["--config", "gs://b/run/job_config", "--output-model-dir", "gs://b/run/model"],
        "env": [{"name": "NEXT_PLUGGABLE_DEVICE_USE_C_API", "value": "true"},
                {"name": "TF_PLUGGABLE_DEVICE_LIBRARY_PATH", "value": "/lib/libtpu.so"}],
    }


def test_tpu_v3_is_chosen_by_accelerator_type_on_cloud_tpu():
    (pool,) = build_worker_pool_specs(**{**SPEC_ARGS, "machine_type": "cloud-tpu", "tpu_topology": ""},
                                      accelerator_type="TPU_V3")
    assert pool["machine_spec"] == {"machine_type": "cloud-tpu", "accelerator_type": "TPU_V3", "accelerator_count": 8}
    assert {e["name"]: e["value"] for e in pool["container_spec"]["env"]}["NEXT_PLUGGABLE_DEVICE_USE_C_API"] == "false"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"machine_type": "TPU v5e"}, r"machine_type='TPU v5e' is not a Vertex TPU machine.*ct5lp-hightpu-4t"),
        ({"machine_type": "ct6e-standard-4t"}, r"Starting with TPU v6e, TensorFlow isn't supported for training"),
        ({"tpu_topology": ""}, r"tpu_topology is required for machine_type='ct5lp-hightpu-4t'"),
        ({"tpu_topology": "4"}, r"tpu_topology must be chips per dimension.*received tpu_topology='4'"),
        ({"replica_count": 0}, r"replica_count must be 1 for a TPU worker pool.*received replica_count=0"),
        ({"replica_count": 2}, r"replica_count must be 1 for a TPU worker pool.*received replica_count=2"),
        ({"image": "my image"}, r"image must be a container image reference"),
        ({"output_model_uri": ""}, r"output_model_uri must be the URI"),
    ],
)
def test_bad_placements_are_rejected(fields, message):
    with pytest.raises(ValueError, match=message):
        build_worker_pool_specs(**{**SPEC_ARGS, **fields})


def test_gate_report_says_what_to_do():
    failed = render_gate_report(passed=False, metric="accuracy", value=0.5, threshold=0.9)
    assert "gate failed" in failed and "| accuracy | 0.5 | 0.9 |" in failed and "lower the threshold" in failed
    assert "gate passed" in render_gate_report(passed=True, metric="loss", value=0.1, threshold=0.0)
    with pytest.raises(TypeError, match=r"value must be a number; received value='high'"):
        render_gate_report(passed=True, metric="accuracy", value="high", threshold=0.5)
