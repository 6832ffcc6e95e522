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
    (pool,) = build_worker_pool_specs(**SPEC_ARGS, replica_count=2)
    assert pool["machine_spec"] == {"machine_type": "ct5lp-hightpu-4t", "tpu_topology": "2x2"}
    assert pool["replica_count"] == 2
    assert pool["container_spec"] == {
        "image_uri": "us-docker.pkg.dev/p/r/estimator-lib-tpu:1",
        "command": ["python", "-m", "components.train.task"],
        "args": ["--config", "gs://b/run/job_config", "--output-model-dir", "gs://b/run/model"],
    }


def test_topology_may_be_left_to_the_machine_type():
    (pool,) = build_worker_pool_specs(**{**SPEC_ARGS, "machine_type": "ct6e-standard-4t", "tpu_topology": ""})
    assert pool["machine_spec"] == {"machine_type": "ct6e-standard-4t"}


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"machine_type": "TPU v5e"}, r"machine_type must be a Vertex machine type such as 'ct5lp-hightpu-4t'"),
        ({"tpu_topology": "4"}, r"tpu_topology must look like '2x2' or '2x2x1'.*received tpu_topology='4'"),
        ({"replica_count": 0}, r"replica_count must be an integer >= 1; received replica_count=0"),
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
