"""The seeds' MNIST examples as written (imports aside): eval_metrics as a list and as a dict, and the
predict example with `is_padding`, with use_tpu=False and on 2 and 4 virtual CPU replicas."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from tpu_testlib import (
    EVAL_X,
    EVAL_Y,
    TRAINED_STEPS,
    estimator,
    eval_input_fn,
    model_fn_dict,
    model_fn_list,
    numpy_eval,
)

from estimator_lib.mode_keys import ModeKeys
from estimator_lib.tpu.tpu_spec import TPUEstimatorSpec

v1 = tf.compat.v1

# (replicas, use_tpu): one replica is the use_tpu=False CPU path; 2 and 4 run use_tpu=True on virtual CPUs.
DEPLOYMENTS = [(1, False), (2, True), (4, True)]
DEPLOYMENT_IDS = ["cpu", "2-replicas", "4-replicas"]


@pytest.mark.parametrize("replicas, use_tpu", DEPLOYMENTS, ids=DEPLOYMENT_IDS)
@pytest.mark.parametrize("model_fn", [model_fn_list, model_fn_dict], ids=["list", "dict"])
def test_eval_metrics_same_on_every_deployment(tmp_path, trained_dir, trained_weights, replicas, use_tpu, model_fn):
    est = estimator(model_fn, str(tmp_path), replicas=replicas, use_tpu=use_tpu, eval_batch_size=16)
    # No steps: the finite eval dataset ends the evaluation (3 batches of 16).
    results = est.evaluate(eval_input_fn, checkpoint_path=trained_dir)
    expected = numpy_eval(*trained_weights, EVAL_X, EVAL_Y)
    assert 0.2 < expected["accuracy"] < 1.0  # a metric that can tell a wrong gather from a right one
    assert results["accuracy"] == pytest.approx(expected["accuracy"], rel=1e-6)
    # The eval loss is the mean over all examples, i.e. over replicas, not one replica's loss.
    assert results["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    assert results["global_step"] == TRAINED_STEPS


# ---- the predict example, imports aside ---------------------------------------------------------------
height = 32
width = 32
total_examples = 100


def predict_input_fn(params):
    batch_size = params["batch_size"]

    images = tf.random.uniform([total_examples, height, width, 3], minval=-1, maxval=1)

    dataset = tf.data.Dataset.from_tensor_slices(images)
    dataset = dataset.map(lambda images: {"image": images})

    dataset = dataset.batch(batch_size)
    return dataset


def model_fn(features, labels, params, mode):
    # Generate predictions, called 'output', from features['image']
    scale = v1.get_variable("scale", [], initializer=v1.ones_initializer())
    output = scale * tf.reduce_mean(features["image"], axis=[1, 2, 3])

    if mode == ModeKeys.PREDICT:
        return TPUEstimatorSpec(
            mode=mode,
            predictions={
                "predictions": output,
                "is_padding": features["is_padding"],
            },
        )


@pytest.mark.parametrize("replicas, use_tpu", DEPLOYMENTS, ids=DEPLOYMENT_IDS)
def test_predict_example_with_is_padding(tmp_path, replicas, use_tpu):
    tpu_est = estimator(model_fn, str(tmp_path), replicas=replicas, use_tpu=use_tpu, predict_batch_size=16)
    processed = []
    # Fully consume the generator so that TPUEstimator can shutdown the TPU system.
    for item in tpu_est.predict(input_fn=predict_input_fn):
        # Filter out item if the `is_padding` is 1.
        if item["is_padding"] == 1:
            continue
        # Process the 'predictions'
        processed.append(float(item["predictions"]))
    assert len(processed) == total_examples
    assert all(-1.0 <= value <= 1.0 for value in processed)
    assert np.std(processed) > 0  # real, distinct images, not padding zeros
