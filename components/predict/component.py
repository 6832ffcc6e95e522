"""KFP declaration of the predict component: a thin shell over components.predict.task."""


from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from .. import images


def predict(
    model_ref: str,
    model: Input[Model],
    predictions: Output[Dataset],
    params_json: str = "{}",
    input_fn_ref: str = "",
    predict_batch_size: int = 0,
    predict_data: str = "",
    output_format: str = "jsonl",
    max_predictions: int = 0,
    predict_keys: str = "",
    use_tpu: bool = False,
):
    """Batch-predicts with the checkpoint in `model`; `predictions` is a folder with predictions.jsonl/.tfrecord."""
    from estimator_kfp.components.predict.task import run_predict

    summary = run_predict(
        model_ref=model_ref,
        model_dir=model.path,
        output_dir=predictions.path,
        params_json=params_json,
        input_fn_ref=input_fn_ref,
        predict_batch_size=predict_batch_size,
        predict_data=predict_data,
        output_format=output_format,
        max_predictions=max_predictions,
        predict_keys=predict_keys,
        use_tpu=use_tpu,
    )
    predictions.metadata.update(summary)


def build(image: str = images.DEFAULT_IMAGE):
    """The predict component running in `image`."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(predict)


predict_op = build()
