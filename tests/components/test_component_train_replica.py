"""The worker pools' entry point (components/train/replica.py) and TF_CONFIG reading (cluster.py), without a cluster.

The real chief + worker run is tests/pipelines/test_pipeline_multi_worker_job.py.
"""

import json

import pytest
from estimator_kfp.components._estimator import EstimatorOptions, build_estimator
from estimator_kfp.components._model_ref import resolve_model
from estimator_kfp.components.train import cluster, replica


def _executor_input(**parameters):
    values = {"model_ref": "estimator_kfp.example_models.classifier", "train_steps": 300.0, "train_batch_size": 8.0,
              "save_checkpoints_steps": 50.0, "use_tpu": False, "params_json": "{}", "machine_type": "g2-standard-8",
              **parameters}
    model = {"artifacts": [{"name": "model", "type": {"schemaTitle": "system.Model"}, "uri": "gs://b/run/train/model"}]}
    return {"inputs": {"parameterValues": values, "artifacts": {}},
            "outputs": {"artifacts": {"model": model}, "outputFile": "gs://b/run/train/executor_output.json"}}


def test_the_worker_builds_the_chiefs_request_from_the_same_executor_input():
    executor_input = _executor_input()
    executor_input["inputs"]["artifacts"]["init_model"] = {"artifacts": [{"uri": "gs://b/old/model"}]}
    request = replica.worker_request(executor_input)
    assert request.output_model_dir == "/gcs/b/run/train/model"  # the FUSE path, as the KFP executor gives the chief
    assert request.init_model_dir == "/gcs/b/old/model"
    assert (request.train_steps, request.train_batch_size, request.save_checkpoints_steps) == (300, 8, 50)
    assert isinstance(request.train_steps, int)


def test_a_dataset_artifact_is_the_workers_training_data_too():
    executor_input = _executor_input(train_data="")
    executor_input["inputs"]["artifacts"]["train_dataset"] = {"artifacts": [{"uri": "gs://b/data/train"}]}
    assert replica.worker_request(executor_input).train_data == "/gcs/b/data/train"
    executor_input["inputs"]["parameterValues"]["train_data"] = "gs://b/other"
    with pytest.raises(ValueError, match=r"train_data and train_dataset are both set"):
        replica.worker_request(executor_input)


def test_an_executor_input_of_another_component_is_refused():
    with pytest.raises(ValueError, match=r"the executor input has no `model` output or no `model_ref` input"):
        replica.worker_request({"inputs": {"parameterValues": {"model": "x"}}, "outputs": {"artifacts": {}}})


@pytest.mark.parametrize(
    "tf_config, shown",
    [
        ({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief", "index": 0}}, "'chief'"),
        (None, "''"),
    ],
)
def test_the_worker_entry_runs_only_in_a_worker_pool(tf_config, shown):
    environ = {"TF_CONFIG": json.dumps(tf_config)} if tf_config else {}
    with pytest.raises(ValueError, match=rf"TF_CONFIG task.type is 'worker'; received task type {shown}"):
        replica.check_worker_task(environ)


def test_main_refuses_an_executor_input_that_is_not_json():
    with pytest.raises(ValueError, match=r"--executor_input must be the job's executor input as JSON"):
        replica.main(["--executor_input", "{not json", "--function_to_execute", "train"])


def test_a_worker_stops_waiting_for_the_chiefs_checkpoint_with_a_clear_error(tmp_path):
    with pytest.raises(TimeoutError, match=r"the chief did not put a checkpoint at step >= 5 into .* within 0 s"):
        replica.wait_for_checkpoint(str(tmp_path), 5, timeout_secs=0)


def test_tf_config_decides_multi_worker():
    two = {"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}
    assert cluster.is_multi_worker({"TF_CONFIG": json.dumps(two)})
    one = {"cluster": {"chief": ["a:1"]}, "task": {"type": "chief", "index": 0}, "environment": "cloud"}
    assert not cluster.is_multi_worker({"TF_CONFIG": json.dumps(one)})
    assert not cluster.is_multi_worker({})
    with pytest.raises(ValueError, match=r"TF_CONFIG is not valid JSON"):
        cluster.tf_config({"TF_CONFIG": "{"})
    with pytest.raises(ValueError, match=r"TF_CONFIG must be a JSON object"):
        cluster.tf_config({"TF_CONFIG": "[1]"})


def test_tpu_training_cannot_also_span_a_cluster(tmp_path):
    functions = resolve_model("estimator_kfp.example_models.classifier")
    with pytest.raises(ValueError, match=r"use_tpu=True trains on one TPU VM's cores; it cannot also train across"):
        build_estimator(functions, str(tmp_path), {}, EstimatorOptions(use_tpu=True, train_batch_size=8),
                        train_distribute=object())


def test_every_train_component_input_reaches_the_worker_or_is_lineage_only():
    """A new train component input must reach the worker too, or the two processes would train differently."""
    import inspect

    from estimator_kfp.components.train import component

    inputs = set(inspect.signature(component.train).parameters)
    known = set(replica._SAME_NAME) | set(replica.HANDLED_INPUTS) | set(replica.LINEAGE_INPUTS)
    assert inputs == known, f"handle {sorted(inputs - known)} in components/train/replica.py"
