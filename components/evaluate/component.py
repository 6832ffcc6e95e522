"""KFP declaration of the evaluate component: a thin shell over components.evaluate.task."""


from typing import NamedTuple

from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from .. import images


def evaluate(
    model_ref: str,
    model: Input[Model],
    metrics: Output[Metrics],
    classification_metrics: Output[ClassificationMetrics],
    params_json: str = "{}",
    input_fn_ref: str = "",
    eval_steps: int = 0,
    eval_batch_size: int = 0,
    eval_data: str = "",
    gate_metric: str = "accuracy",
    class_key: str = "",
    class_names: str = "",
    use_tpu: bool = False,
    eval_dataset: Input[Dataset] = None,
) -> NamedTuple("EvaluateOutputs", [("gate_value", float)]):
    """Evaluates the checkpoint in `model`: one logged metric per scalar, a confusion matrix for classifiers.

    Args:
        model_ref: Model module 'package.module' (with model_fn, input_fn) or 'package.module:model_fn'.
        model: Checkpoint directory to evaluate (the train step's output); never written to.
        metrics: Output: one logged value per scalar metric, also written as JSON.
        classification_metrics: Output: the confusion matrix, when labels are integer class ids.
        params_json: JSON object handed to model_fn and input_fn as params.
        input_fn_ref: 'package.module:input_fn' when the model module has no input_fn (or to override it).
        eval_steps: Batches to evaluate (0: the whole input).
        eval_batch_size: Batch size, params['batch_size'] (0: input_fn decides).
        eval_data: Evaluation data path or gs:// URI, handed to input_fn as params['data_path'].
        gate_metric: Metric returned as gate_value, for a dsl.If gate downstream.
        class_key: Prediction key holding the class id (default: the first of class_ids, classes, class_id).
        class_names: Comma-separated class names for the confusion matrix, in class-id order.
        use_tpu: Evaluate with TPUEstimator on a TPU.
        eval_dataset: Optional Dataset artifact to evaluate on instead of eval_data.
    """
    import math
    from collections import namedtuple

    from estimator_kfp.components import _io
    from estimator_kfp.components._data import data_path
    from estimator_kfp.components.evaluate.task import run_evaluate, to_json_number

    result = run_evaluate(
        model_ref=model_ref,
        model_dir=model.path,
        params_json=params_json,
        input_fn_ref=input_fn_ref,
        eval_steps=eval_steps,
        eval_batch_size=eval_batch_size,
        eval_data=data_path("eval_data", eval_data, eval_dataset),
        gate_metric=gate_metric,
        class_key=class_key,
        class_names=class_names,
        use_tpu=use_tpu,
    )
    for name, value in sorted(result.metrics.items()):
        if math.isfinite(value):
            metrics.log_metric(name, value)
        else:
            print(f"[evaluate] metric {name} is {value}; not logged (KFP metrics must be finite)", flush=True)
    _io.write_json(metrics.path, {name: to_json_number(v) for name, v in result.metrics.items()})
    if result.confusion_matrix is not None:
        classification_metrics.log_confusion_matrix(result.class_names, result.confusion_matrix)
    else:
        print(f"[evaluate] no confusion matrix: {result.skipped_confusion_reason}", flush=True)
    classification_metrics.metadata["confusion_matrix_skipped"] = result.skipped_confusion_reason
    _io.write_json(
        classification_metrics.path,
        {"class_names": result.class_names, "confusion_matrix": result.confusion_matrix,
         "skipped": result.skipped_confusion_reason},
    )
    print(f"[evaluate] {result.gate_metric} = {result.gate_value}; metrics: {result.metrics}", flush=True)
    return namedtuple("EvaluateOutputs", ["gate_value"])(result.gate_value)


def build(image: str = images.DEFAULT_IMAGE):
    """The evaluate component running in `image`."""
    return dsl.component(base_image=images.check_image(image), install_kfp_package=False)(evaluate)


evaluate_op = build()
