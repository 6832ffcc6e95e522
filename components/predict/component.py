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
    predict_dataset: Input[Dataset] = None,
):
    """Batch-predicts with the checkpoint in `model`; `predictions` is a folder with predictions.jsonl/.tfrecord.

    Args:
        model_ref: Model module 'package.module' (with model_fn, input_fn) or 'package.module:model_fn'.
        model: Checkpoint directory to predict with; never written to.
        predictions: Output folder with predictions.jsonl (one JSON object per example) or predictions.tfrecord.
        params_json: JSON object handed to model_fn and input_fn as params.
        input_fn_ref: 'package.module:input_fn' when the model module has no input_fn (or to override it).
        predict_batch_size: Batch size, params['batch_size'] (0: input_fn decides).
        predict_data: Data path or gs:// URI to predict on, handed to input_fn as params['data_path'].
        output_format: 'jsonl' or 'tfrecord'.
        max_predictions: Stop after this many examples (0: all of the input).
        predict_keys: Comma-separated prediction keys to keep (empty: all).
        use_tpu: Predict with TPUEstimator on a TPU.
        predict_dataset: Optional Dataset artifact to predict on instead of predict_data.
    """
    from estimator_kfp.components._data import data_path
    from estimator_kfp.components.predict.task import run_predict

    summary = run_predict(
        model_ref=model_ref,
        model_dir=model.path,
        output_dir=predictions.path,
        params_json=params_json,
        input_fn_ref=input_fn_ref,
        predict_batch_size=predict_batch_size,
        predict_data=data_path("predict_data", predict_data, predict_dataset),
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
