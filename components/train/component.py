"""KFP declaration of the train component: a thin shell over components.train.task."""


from kfp import dsl
from kfp.dsl import Input, Model, Output

from components import images


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
):
    """Trains the referenced model_fn for train_steps steps; `model` is the checkpoint directory.

    init_model (optional, e.g. from dsl.importer) resumes training ('resume') or warm-starts ('warm_start').
    """
    from components.train.task import TrainRequest, run_train

    summary = run_train(
        TrainRequest(
            model_ref=model_ref,
            output_model_dir=model.path,
            params_json=params_json,
            input_fn_ref=input_fn_ref,
            train_steps=train_steps,
            train_batch_size=train_batch_size,
            train_data=train_data,
            init_model_dir=init_model.path if init_model is not None else "",
            init_mode=init_mode,
            use_tpu=use_tpu,
            save_checkpoints_steps=save_checkpoints_steps,
            save_checkpoints_secs=save_checkpoints_secs,
            log_step_count_steps=log_step_count_steps,
            tf_random_seed=tf_random_seed,
        )
    )
    model.metadata.update(summary)


def build(image: str = images.DEFAULT_IMAGE):
    """The train component running in `image` (override to use your own build of the project image)."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(train)


train_op = build()
