"""KFP declaration of the TPU train job planner: writes the train config and returns worker pool specs.

Used by the TPU pipeline in front of google-cloud-pipeline-components' CustomTrainingJobOp; its `model`
output is the checkpoint directory the custom job fills (connect evaluate to it with `.after(job)`).
"""


from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Input, Model, Output

from components import images


def tpu_train_job(
    model_ref: str,
    model: Output[Model],
    job_config: Output[Artifact],
    tpu_image: str,
    machine_type: str,
    tpu_topology: str = "",
    replica_count: int = 1,
    accelerator_type: str = "",
    params_json: str = "{}",
    input_fn_ref: str = "",
    train_steps: int = 100,
    train_batch_size: int = 0,
    train_data: str = "",
    use_tpu: bool = True,
    iterations_per_loop: int = 0,
    tf_random_seed: int = -1,
    save_checkpoints_secs: int = 120,
    init_model: Input[Model] = None,
    init_mode: str = "resume",
) -> NamedTuple("TpuTrainJobOutputs", [("worker_pool_specs", list)]):
    """Validates the training request, stores it as JSON and returns the CustomJob worker pool specs.

    init_model (optional, e.g. from dsl.importer) is resumed or warm-started from by the job, as in train.
    """
    from collections import namedtuple

    from components import _io
    from components._estimator import require_checkpoint
    from components._model_ref import parse_params, resolve_model
    from components.tpu_train_job.task import build_worker_pool_specs
    from components.train.task import TrainRequest

    # Fail here, on a CPU, rather than after TPU VMs were provisioned.
    resolve_model(model_ref, input_fn_ref=input_fn_ref)
    parse_params(params_json)
    if init_model is not None:
        require_checkpoint(_io.local_path(init_model.path), "init_model")

    request = TrainRequest(
        model_ref=model_ref,
        output_model_dir=model.uri,
        params_json=params_json,
        input_fn_ref=input_fn_ref,
        train_steps=train_steps,
        train_batch_size=train_batch_size,
        train_data=train_data,
        use_tpu=use_tpu,
        iterations_per_loop=iterations_per_loop,
        tf_random_seed=tf_random_seed,
        save_checkpoints_secs=save_checkpoints_secs,
        init_model_dir=init_model.uri if init_model is not None else "",
        init_mode=init_mode,
    )
    _io.write_json(job_config.path, {k: v for k, v in request.__dict__.items() if k != "output_model_dir"})
    specs = build_worker_pool_specs(
        image=tpu_image,
        machine_type=machine_type,
        tpu_topology=tpu_topology,
        replica_count=replica_count,
        accelerator_type=accelerator_type,
        config_uri=job_config.uri,
        output_model_uri=model.uri,
    )
    model.metadata.update({"machine_type": machine_type, "tpu_topology": tpu_topology, "model_ref": model_ref})
    return namedtuple("TpuTrainJobOutputs", ["worker_pool_specs"])(specs)


def build(image: str = images.DEFAULT_IMAGE):
    """The planner runs in the CPU image; the custom job it describes runs in the TPU image."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(tpu_train_job)


tpu_train_job_op = build()
