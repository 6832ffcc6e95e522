"""KFP declaration of the train component: a thin shell over components.train.task.

The same component runs as a pipeline step (kfp.local, a Vertex step) or, wrapped by
pipelines.training_job, as the Vertex CustomJob itself: its `model` output is then written by the job
that trained it.
"""


from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from .. import images


def train(
    model_ref: str,
    model: Output[Model],
    params_json: str = "{}",
    input_fn_ref: str = "",
    train_steps: int = 100,
    train_batch_size: int = 0,
    train_data: str = "",
    init_model: Input[Model] = None,
    init_mode: str = "resume",
    use_tpu: bool = False,
    save_checkpoints_steps: int = 0,
    save_checkpoints_secs: int = 120,
    log_step_count_steps: int = 50,
    tf_random_seed: int = -1,
    iterations_per_loop: int = 0,
    machine_type: str = "",
    accelerator_type: str = "",
    tpu_topology: str = "",
    train_dataset: Input[Dataset] = None,
):
    """Trains the referenced model_fn for train_steps steps; `model` is the checkpoint directory.

    Args:
        model_ref: Model module 'package.module' (with model_fn, input_fn) or 'package.module:model_fn'.
        model: Output checkpoint directory; its metadata holds global_step, checkpoint, TF version, machine.
        params_json: JSON object handed to model_fn and input_fn as params.
        input_fn_ref: 'package.module:input_fn' when the model module has no input_fn (or to override it).
        train_steps: Steps to train beyond the starting checkpoint.
        train_batch_size: Global batch size, params['batch_size'] (required > 0 with use_tpu).
        train_data: Training data path or gs:// URI, handed to input_fn as params['data_path'].
        init_model: Optional checkpoint directory to start from (e.g. from dsl.importer).
        init_mode: 'resume' continues init_model's training; 'warm_start' starts a new run from its weights.
        use_tpu: Train with TPUEstimator on the TPU attached to this VM.
        save_checkpoints_steps: Checkpoint every N steps (0: the estimator's default cadence).
        save_checkpoints_secs: Checkpoint every N seconds when save_checkpoints_steps is 0 (0: RunConfig's
            600 s); a preempted job loses at most that.
        log_step_count_steps: Log loss and steps/sec every N steps.
        tf_random_seed: Graph-level random seed (-1: none).
        iterations_per_loop: TPU steps per host loop (0: TPUConfig's default).
        machine_type: Machine the step runs on, recorded in the model's metadata for lineage.
        accelerator_type: Accelerator the step runs on, recorded in the model's metadata.
        tpu_topology: TPU topology the step runs on, recorded in the model's metadata.
        train_dataset: Optional Dataset artifact to train on instead of train_data (its path is params['data_path']).
    """
    from estimator_kfp.components._data import data_path
    from estimator_kfp.components.train.task import TrainRequest
    from estimator_kfp.components.train.vertex_dirs import train_in_job

    summary = train_in_job(
        TrainRequest(
            model_ref=model_ref,
            output_model_dir=model.path,
            params_json=params_json,
            input_fn_ref=input_fn_ref,
            train_steps=train_steps,
            train_batch_size=train_batch_size,
            train_data=data_path("train_data", train_data, train_dataset),
            init_model_dir=init_model.path if init_model is not None else "",
            init_mode=init_mode,
            use_tpu=use_tpu,
            save_checkpoints_steps=save_checkpoints_steps,
            save_checkpoints_secs=save_checkpoints_secs,
            log_step_count_steps=log_step_count_steps,
            tf_random_seed=tf_random_seed,
            iterations_per_loop=iterations_per_loop,
        )
    )
    placement = {"machine_type": machine_type, "accelerator_type": accelerator_type, "tpu_topology": tpu_topology}
    model.metadata.update(summary)
    model.metadata.update({name: value for name, value in placement.items() if value})


def build(image: str = images.DEFAULT_IMAGE):
    """The train component running in `image` (override to use your own build of the project image)."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(train)


train_op = build()
