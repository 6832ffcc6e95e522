"""The mapping table: every rewrite target exists in estimator_lib, and old names resolve as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from estimator_lib.migrate import mapping

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))


_RESOLVE_TARGETS = """
import json, sys
import estimator_lib
missing = []
for dotted in json.loads(sys.argv[1]):
    obj = estimator_lib
    for part in dotted.split(".")[1:]:
        if not hasattr(obj, part):
            missing.append(dotted)
            break
        obj = getattr(obj, part)
print(json.dumps(missing))
"""


def test_every_target_name_resolves_after_a_plain_import_estimator_lib():
    """Rewritten code reads `import estimator_lib` then `estimator_lib.tpu.TPUEstimator`: every target the
    table writes must resolve that way in a fresh interpreter (subpackages imported by the package itself)."""
    targets = sorted(
        {namespace for namespace in mapping.EXPORTS}
        | {f"{namespace}.{new}" for namespace, names in mapping.EXPORTS.items() for new in names.values()}
    )
    process = subprocess.run(
        [sys.executable, "-c", _RESOLVE_TARGETS, json.dumps(targets)],
        capture_output=True, text=True, cwd=REPO, timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert process.returncode == 0, process.stderr[-2000:]
    missing = json.loads(process.stdout.strip().splitlines()[-1])
    assert not missing, f"mapping.EXPORTS writes names that `import estimator_lib` does not provide: {missing}"


@pytest.mark.parametrize(
    "old, kind, new",
    [
        ("tensorflow.estimator.Estimator", "symbol", "estimator_lib.Estimator"),
        ("tensorflow.compat.v1.estimator.tpu.TPUEstimator", "symbol", "estimator_lib.tpu.TPUEstimator"),
        ("tensorflow.compat.v2.estimator.RunConfig", "symbol", "estimator_lib.RunConfig"),
        ("tensorflow.estimator.tpu.TPUConfig", "symbol", "estimator_lib.tpu.TPUConfig"),
        ("tensorflow.contrib.tpu.TPUEstimatorSpec", "symbol", "estimator_lib.tpu.TPUEstimatorSpec"),
        ("tensorflow.estimator.export.PredictOutput", "symbol", "estimator_lib.export.PredictOutput"),
        (
            "tensorflow.estimator.experimental.stop_if_lower_hook",
            "symbol",
            "estimator_lib.experimental.stop_if_lower_hook",
        ),
        ("tensorflow_estimator.estimator.WarmStartSettings", "symbol", "estimator_lib.WarmStartSettings"),
        ("tensorflow_estimator.python.estimator.estimator.EstimatorV2", "symbol", "estimator_lib.Estimator"),
        (
            "tensorflow_estimator.python.estimator.early_stopping.stop_if_higher_hook",
            "symbol",
            "estimator_lib.early_stopping.stop_if_higher_hook",
        ),
        ("tensorflow_estimator.python.estimator.tpu.tpu_config", "namespace", "estimator_lib.tpu"),
        ("tensorflow.estimator", "namespace", "estimator_lib"),
        # TF1 names with a home in estimator_lib, under every spelling.
        ("tensorflow.contrib.tpu.CrossShardOptimizer", "symbol", "estimator_lib.tpu.CrossShardOptimizer"),
        ("tensorflow.tpu.CrossShardOptimizer", "symbol", "estimator_lib.tpu.CrossShardOptimizer"),
        ("tensorflow.compat.v1.tpu.CrossShardOptimizer", "symbol", "estimator_lib.tpu.CrossShardOptimizer"),
        ("tensorflow.layers.dense", "symbol", "estimator_lib.layers.dense"),
        ("tensorflow.compat.v1.layers.Conv2D", "symbol", "estimator_lib.layers.Conv2D"),
        ("tensorflow.contrib.layers.layer_norm", "symbol", "estimator_lib.layers.layer_norm"),
        ("tensorflow.contrib.data.map_and_batch", "symbol", "tensorflow.compat.v1.data.experimental.map_and_batch"),
    ],
)
def test_mapped_names(old, kind, new):
    resolution = mapping.classify(old)
    assert (resolution.kind, resolution.new) == (kind, new)


@pytest.mark.parametrize(
    "old, advice",
    [
        ("tensorflow.estimator.DNNClassifier", "canned estimators are not shipped"),
        ("tensorflow.estimator.BoostedTreesClassifier", "TensorFlow Decision Forests"),
        ("tensorflow.compat.v1.estimator.inputs.numpy_input_fn", "tf.data.Dataset.from_tensor_slices"),
        ("tensorflow.compat.v1.layers.conv3d", "--v1-layers tf-keras"),
        ("tensorflow.contrib.learn.Experiment", "tf.contrib was removed"),
        ("tensorflow.compat.v1.estimator.tpu.experimental.EmbeddingConfigSpec", "TPU embedding"),
        ("tensorflow.estimator.MultiClassHead", "heads are not shipped"),
        ("tensorflow_estimator.python.estimator.canned.dnn.DNNClassifier", "canned estimators are not shipped"),
    ],
)
def test_unmapped_names_come_with_advice(old, advice):
    resolution = mapping.classify(old)
    assert resolution.kind == "unmapped"
    assert advice in resolution.advice


@pytest.mark.parametrize("name", ["tensorflow", "tensorflow.compat.v1.train.SessionRunHook", "tensorflow.keras.layers"])
def test_plain_tensorflow_is_not_touched(name):
    assert mapping.classify(name) is None


def test_tf_keras_route_leaves_v1_layers_alone():
    assert mapping.classify("tensorflow.compat.v1.layers.dense", layers_route="tf-keras") is None
    assert mapping.classify("tensorflow.contrib.layers.layer_norm", layers_route="tf-keras").new == (
        "estimator_lib.layers.layer_norm"
    )


@pytest.mark.parametrize(
    "name, tf1",
    [
        ("tensorflow.flags.DEFINE_string", True),
        ("tensorflow.gfile.GFile", True),
        ("tensorflow.logging.info", True),
        ("tensorflow.app.run", True),
        ("tensorflow.train.Optimizer", True),
        ("tensorflow.get_variable", True),
        ("tensorflow.contrib.anything", True),
        ("tensorflow.layers.dense", True),
        ("tensorflow.nn.relu", False),
        ("tensorflow.io.gfile.GFile", False),
        ("tensorflow.compat.v1.flags", False),
    ],
)
def test_tf1_only_names(name, tf1):
    assert mapping.is_tf1_only(name) is tf1
