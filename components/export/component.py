"""KFP declaration of the export component: a thin shell over components.export.task."""


from kfp import dsl
from kfp.dsl import Input, Model, Output

from .. import images


def export(
    model_ref: str,
    model: Input[Model],
    saved_model: Output[Model],
    params_json: str = "{}",
    serving_input_fn_ref: str = "",
    use_tpu: bool = False,
):
    """Exports the checkpoint in `model` as a SavedModel; `saved_model` carries its signatures as metadata.

    Args:
        model_ref: Model module 'package.module' (with serving_input_receiver_fn) or 'package.module:model_fn'.
        model: Checkpoint directory to export; never written to.
        saved_model: Output: the SavedModel at the artifact root, with signatures and TF version as metadata.
        params_json: JSON object handed to model_fn as params.
        serving_input_fn_ref: 'package.module:serving_input_receiver_fn' when the model module has none.
        use_tpu: Export the TPUEstimator graph for serving on CPU.
    """
    from estimator_kfp.components.export.task import run_export

    metadata = run_export(
        model_ref=model_ref,
        model_dir=model.path,
        output_dir=saved_model.path,
        params_json=params_json,
        serving_input_fn_ref=serving_input_fn_ref,
        use_tpu=use_tpu,
    )
    saved_model.metadata.update(metadata)


def build(image: str = images.DEFAULT_IMAGE):
    """The export component running in `image`."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(export)


export_op = build()
