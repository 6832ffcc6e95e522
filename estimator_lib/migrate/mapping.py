"""The one table of what the upgrade tool maps: old TensorFlow / tensorflow_estimator names to ours.

To support a new name, add it to the right entry of `EXPORTS` (what this library exports in each of
its namespaces). To teach the tool an old module path, add it to `_NAMESPACE_ROOTS` or
`_INTERNAL_MODULES`. To improve the advice printed for a name we do not map, edit `_ADVICE`.
Nothing here imports TensorFlow: the tool runs without it.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

PACKAGE = "estimator_lib"

# What this library exports, per namespace: old attribute name -> our attribute name.
# Only names listed here are rewritten; every other name under an estimator namespace is reported.
_HOOKS = (
    "CheckpointSaverListener",
    "SessionRunHook",
    "SessionRunArgs",
    "SessionRunContext",
    "SessionRunValues",
    "StopAtStepHook",
    "CheckpointSaverHook",
    "LoggingTensorHook",
    "StepCounterHook",
    "SummarySaverHook",
    "NanTensorHook",
    "NanLossDuringTrainingError",
    "FeedFnHook",
    "ProfilerHook",
    "FinalOpsHook",
    "GlobalStepWaiterHook",
)
_TOP_LEVEL = (
    "Estimator",
    "EstimatorSpec",
    "ModeKeys",
    "RunConfig",
    "TrainSpec",
    "EvalSpec",
    "train_and_evaluate",
    "WarmStartSettings",
    "TaskType",
    "Exporter",
    "LatestExporter",
    "BestExporter",
    "FinalExporter",
) + _HOOKS
_EARLY_STOPPING = ("stop_if_higher_hook", "stop_if_lower_hook", "stop_if_no_increase_hook", "stop_if_no_decrease_hook")
_EXPORT = (
    "ServingInputReceiver",
    "TensorServingInputReceiver",
    "build_parsing_serving_input_receiver_fn",
    "build_raw_serving_input_receiver_fn",
    "ExportOutput",
    "ClassificationOutput",
    "RegressionOutput",
    "PredictOutput",
)
_TPU = ("TPUEstimator", "TPUEstimatorSpec", "RunConfig", "TPUConfig", "InputPipelineConfig", "TPUContext",
        "CrossShardOptimizer")
# estimator_lib.layers: the tf.compat.v1.layers functions and classes it implements.
_LAYERS = ("dense", "dropout", "flatten", "conv2d", "max_pooling2d", "average_pooling2d", "batch_normalization",
           "Dense", "Dropout", "Flatten", "Conv2D", "MaxPooling2D", "AveragePooling2D", "BatchNormalization")


def _same(names: tuple[str, ...]) -> dict[str, str]:
    return {name: name for name in names}


EXPORTS: dict[str, dict[str, str]] = {
    PACKAGE: {**_same(_TOP_LEVEL), "EstimatorV2": "Estimator"},
    f"{PACKAGE}.export": _same(_EXPORT),
    f"{PACKAGE}.tpu": _same(_TPU),
    f"{PACKAGE}.experimental": _same(_EARLY_STOPPING),
    f"{PACKAGE}.early_stopping": _same(_EARLY_STOPPING),
    f"{PACKAGE}.layers": _same(_LAYERS),
}

# How a program's TF1 layers (tf.layers, tf.compat.v1.layers) are served: by estimator_lib.layers (the
# default: rewritten), or by tf-keras with TF_USE_LEGACY_KERAS=1 (left alone, not reported).
LAYERS_ROUTES = ("estimator_lib", "tf-keras")
_LAYER_NAMESPACES = ("tensorflow.layers", "tensorflow.compat.v1.layers")

# Single TF1 names with a home here: old dotted name -> ours.
SYMBOLS: dict[str, str] = {
    "tensorflow.contrib.layers.layer_norm": f"{PACKAGE}.layers.layer_norm",
    **{f"{root}.tpu.CrossShardOptimizer": f"{PACKAGE}.tpu.CrossShardOptimizer"
       for root in ("tensorflow", "tensorflow.compat.v1")},
}
# tf.contrib names that moved within TensorFlow: old -> new, written through the file's `tf` alias
# (which the tool makes `tensorflow.compat.v1` in a file that uses TF1 names).
TF_MOVES: dict[str, str] = {
    **{f"tensorflow.contrib.data.{name}": f"tensorflow.compat.v1.data.experimental.{name}"
       for name in ("AUTOTUNE", "map_and_batch", "parallel_interleave", "shuffle_and_repeat", "prefetch_to_device",
                    "ignore_errors", "sample_from_datasets", "choose_from_datasets")},
    "tensorflow.contrib.cluster_resolver.TPUClusterResolver":
        "tensorflow.compat.v1.distribute.cluster_resolver.TPUClusterResolver",
}
TF_V1 = "tensorflow.compat.v1"

# Public API roots under which `<root>.estimator` was the Estimator API.
_API_ROOTS = ("tensorflow", "tensorflow.compat.v1", "tensorflow.compat.v2", "tensorflow_estimator")
# Sub-namespaces of the public API: old suffix -> our namespace.
_NAMESPACE_ROOTS = {
    "estimator": PACKAGE,
    "estimator.export": f"{PACKAGE}.export",
    "estimator.tpu": f"{PACKAGE}.tpu",
    "estimator.experimental": f"{PACKAGE}.experimental",
}
# Internal module paths of tensorflow_estimator (and of TF 1.x, which shipped the same tree).
_INTERNAL_ROOTS = ("tensorflow_estimator.python.estimator", "tensorflow.python.estimator")
_INTERNAL_MODULES = {
    "estimator": PACKAGE,
    "estimator_lib": PACKAGE,
    "model_fn": PACKAGE,
    "mode_keys": PACKAGE,
    "run_config": PACKAGE,
    "training": PACKAGE,
    "exporter": PACKAGE,
    "hooks": PACKAGE,
    "hooks.basic_session_run_hooks": PACKAGE,
    "hooks.session_run_hook": PACKAGE,
    "early_stopping": f"{PACKAGE}.early_stopping",
    "estimator_lib.export": f"{PACKAGE}.export",
    "export": f"{PACKAGE}.export",
    "export.export": f"{PACKAGE}.export",
    "export.export_lib": f"{PACKAGE}.export",
    "export.export_output": f"{PACKAGE}.export",
    "tpu": f"{PACKAGE}.tpu",
    "tpu.tpu_estimator": f"{PACKAGE}.tpu",
    "tpu.tpu_config": f"{PACKAGE}.tpu",
}
# TF 1.x contrib homes of the TPUEstimator family.
_CONTRIB_TPU = ("tensorflow.contrib.tpu", "tensorflow.contrib.tpu.python.tpu.tpu_estimator",
                "tensorflow.contrib.tpu.python.tpu.tpu_config")


def _build_namespaces() -> dict[str, str]:
    table: dict[str, str] = {}
    for root in _API_ROOTS:
        for suffix, new in _NAMESPACE_ROOTS.items():
            table[f"{root}.{suffix}"] = new
    for root in _INTERNAL_ROOTS:
        for suffix, new in _INTERNAL_MODULES.items():
            table[f"{root}.{suffix}"] = new
    for module in _CONTRIB_TPU:
        table[module] = f"{PACKAGE}.tpu"
    return table


# Old module path -> our namespace. Attribute lookups under it go through EXPORTS[our namespace].
NAMESPACES: dict[str, str] = _build_namespaces()

# Module paths whose imports cannot work on TF 2.16+: an import of them must be rewritten or reported.
OLD_ROOTS = ("tensorflow_estimator", "tensorflow.python.estimator", "tensorflow.contrib")

# Advice for names we do not map, by attribute name under an estimator namespace.
_CANNED = (
    "canned estimators are not shipped by estimator_lib: write a model_fn that builds the same network "
    "(e.g. keras.layers.Dense layers, or tf.compat.v1.get_variable) and returns an EstimatorSpec, then use "
    "estimator_lib.Estimator"
)
_HEADS = "heads are not shipped: compute the loss, predictions and eval_metric_ops in your model_fn"
_ADVICE: dict[str, str] = {
    **{
        name: _CANNED
        for name in (
            "DNNClassifier", "DNNRegressor", "DNNEstimator", "LinearClassifier", "LinearRegressor",
            "LinearEstimator", "DNNLinearCombinedClassifier", "DNNLinearCombinedRegressor",
            "DNNLinearCombinedEstimator", "BaselineClassifier", "BaselineRegressor", "BaselineEstimator",
            "RNNClassifier", "RNNEstimator", "LinearSDCA", "KMeans", "KMeansClustering",
            "dnn_logit_fn_builder", "linear_logit_fn_builder", "call_logit_fn",
        )
    },
    **{
        name: "boosted trees estimators are not shipped: use TensorFlow Decision Forests, XGBoost or LightGBM"
        for name in ("BoostedTreesClassifier", "BoostedTreesRegressor", "BoostedTreesEstimator")
    },
    **{
        name: _HEADS
        for name in ("Head", "BinaryClassHead", "MultiClassHead", "MultiHead", "MultiLabelHead",
                     "RegressionHead", "LogisticRegressionHead", "PoissonRegressionHead")
    },
    **{
        name: f"use tf.compat.v1.train.{name}, which TensorFlow 2.21 still ships"
        for name in ("SecondOrStepTimer",)
    },
    "inputs": "numpy_input_fn/pandas_input_fn are gone: return tf.data.Dataset.from_tensor_slices((features, labels)) "
              "from your input_fn",
    "add_metrics": "wrap your model_fn and merge the extra metrics into EstimatorSpec.eval_metric_ops",
    "classifier_parse_example_spec": "build the parsing spec with tf.compat.v1.feature_column.make_parse_example_spec "
                                     "plus a tf.io.FixedLenFeature for the label",
    "regressor_parse_example_spec": "build the parsing spec with tf.compat.v1.feature_column.make_parse_example_spec "
                                    "plus a tf.io.FixedLenFeature for the label",
    "VocabInfo": "vocabulary remapping on warm start is not supported: warm-start the embedding variables by name "
                 "(WarmStartSettings(vars_to_warm_start=...)) after making the vocabularies match",
    "InMemoryEvaluatorHook": "evaluate with a separate Estimator.evaluate call, or TrainSpec/EvalSpec with "
                             "estimator_lib.train_and_evaluate",
    "make_early_stopping_hook": "use estimator_lib.experimental.stop_if_* hooks, or write a SessionRunHook that "
                                "calls run_context.request_stop()",
    "make_stop_at_checkpoint_step_hook": "use estimator_lib.StopAtStepHook",
    "build_raw_supervised_input_receiver_fn": "not shipped: export a serving graph with "
                                              "build_raw_serving_input_receiver_fn",
    "build_supervised_input_receiver_fn_from_input_fn": "not shipped: export a serving graph with "
                                                        "build_raw_serving_input_receiver_fn",
    "SupervisedInputReceiver": "not shipped: export a serving graph with a ServingInputReceiver",
    "EvalOutput": "not shipped: only serving exports (PREDICT mode) are written",
    "TrainOutput": "not shipped: only serving exports (PREDICT mode) are written",
    "experimental.EmbeddingConfigSpec": "TPU embedding columns are not supported by estimator_lib.tpu; move the "
                                        "embedding to tf.tpu.experimental.embedding.TPUEmbedding in a TF2 program",
}
_LAYERS_ADVICE = (
    "estimator_lib.layers does not implement this tf.compat.v1.layers name: write it with "
    "tf.compat.v1.get_variable under a variable_scope of the old layer name (checkpoints keep loading), or run "
    "with --v1-layers tf-keras (pip install tf-keras, TF_USE_LEGACY_KERAS=1)"
)
_CONTRIB_ADVICE = (
    "tf.contrib was removed in TensorFlow 2.0: find the replacement in core TensorFlow "
    "(https://www.tensorflow.org/guide/migrate) or in a maintained library"
)
_STAR_ADVICE = "star imports are not rewritten: import the names you use from estimator_lib explicitly"
_DEFAULT_ADVICE = "estimator_lib does not export this name: port the code by hand (see docs/migration.md)"

OLD_PACKAGE_ADVICE = (
    "tensorflow_estimator does not install on TensorFlow 2.16+ and estimator_lib has no equivalent of this name: "
    "port the code by hand (see docs/migration.md)"
)

# Module paths reported wherever they are used (not under an estimator namespace).
UNMAPPED_PREFIXES: dict[str, str] = {
    "tensorflow.contrib": _CONTRIB_ADVICE,
    **{f"{root}.canned": _CANNED for root in _INTERNAL_ROOTS},
    **{f"{root}.head": _HEADS for root in _INTERNAL_ROOTS},
    **{f"{root}.inputs": _ADVICE["inputs"] for root in _INTERNAL_ROOTS},
}


@dataclasses.dataclass(frozen=True)
class Resolution:
    """What a dotted old name means: `consumed` leading components resolve to `new` (or are unmapped)."""

    kind: Literal["namespace", "symbol", "unmapped"]
    consumed: int
    new: str | None = None
    advice: str | None = None

    @property
    def mapped(self) -> bool:
        return self.kind != "unmapped"


def classify(qualified_name: str, layers_route: str = "estimator_lib") -> Resolution | None:
    """Resolves a fully qualified old name such as `tensorflow.compat.v1.estimator.tpu.TPUEstimator.x`.

    Returns None for names the tool has nothing to say about (ordinary TensorFlow).
    """
    parts = qualified_name.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in SYMBOLS:
            return Resolution("symbol", length, SYMBOLS[prefix])
        if prefix in TF_MOVES:
            return Resolution("symbol", length, TF_MOVES[prefix])
        if prefix in _LAYER_NAMESPACES:
            if layers_route == "tf-keras":
                return None
            if length == len(parts):
                return Resolution("namespace", length, f"{PACKAGE}.layers")
            target = EXPORTS[f"{PACKAGE}.layers"].get(parts[length])
            if target is not None:
                return Resolution("symbol", length + 1, f"{PACKAGE}.layers.{target}")
            return Resolution("unmapped", length + 1, advice=_LAYERS_ADVICE)
        if prefix in NAMESPACES:
            namespace = NAMESPACES[prefix]
            if length == len(parts):
                return Resolution("namespace", length, namespace)
            name = parts[length]
            target = EXPORTS[namespace].get(name)
            if target is not None:
                return Resolution("symbol", length + 1, f"{namespace}.{target}")
            return Resolution("unmapped", length + 1, advice=advice_for(prefix, parts[length:]))
        if prefix in UNMAPPED_PREFIXES:
            return Resolution("unmapped", length, advice=UNMAPPED_PREFIXES[prefix])
    return None


def advice_for(namespace: str, rest: list[str]) -> str:
    """The most specific advice for `namespace.rest...`, falling back to a generic hint."""
    for key in (".".join(rest[:2]), rest[0]):
        if key in _ADVICE:
            return _ADVICE[key]
    if namespace.startswith("tensorflow.contrib"):
        return _CONTRIB_ADVICE
    return _DEFAULT_ADVICE


def star_import_advice() -> str:
    return _STAR_ADVICE


def must_replace_import(qualified_name: str, layers_route: str = "estimator_lib") -> bool:
    """Whether importing this module path fails on TF 2.16+ (or brings an estimator name we map)."""
    if classify(qualified_name, layers_route) is not None:
        return True
    return any(qualified_name == root or qualified_name.startswith(root + ".") for root in OLD_ROOTS)


def is_tf1_only(qualified_name: str) -> bool:
    """Whether `tensorflow.<name>` is a TF1 name that `import tensorflow as tf` lost in TF 2.x."""
    from estimator_lib.migrate.tf1_names import TF1_ONLY

    if not qualified_name.startswith("tensorflow."):
        return False
    parts = qualified_name.split(".")[1:]
    if parts[0] in ("contrib", "layers"):
        return True
    return any(".".join(parts[:n]) in TF1_ONLY for n in range(1, min(len(parts), 2) + 1))


def is_tensorflow_name(qualified_name: str) -> bool:
    """Whether a binding may lead to estimator names (the tool only follows such bindings)."""
    root = qualified_name.split(".", 1)[0]
    return root in ("tensorflow", "tensorflow_estimator")
