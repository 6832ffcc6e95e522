"""Estimator.export_saved_model to gs://: staged locally, uploaded with checksums, committed last."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import estimator_lib as est
from estimator_lib import storage
from example_models import classifier


@pytest.fixture(scope="module")
def trained_estimator(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("model"))
    estimator = est.Estimator(classifier.model_fn, model_dir=model_dir, params={"n_examples": 128})
    estimator.train(classifier.input_fn, max_steps=20)
    return estimator


def _example(row):
    feature = {"x": tf.train.Feature(float_list=tf.train.FloatList(value=row))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_export_to_bucket_commits_a_loadable_saved_model(trained_estimator, gcs_env, gcs_bucket, tmp_path):
    base = f"gs://{gcs_bucket}/exports"
    first = trained_estimator.export_saved_model(base, classifier.serving_input_receiver_fn).decode()
    second = trained_estimator.export_saved_model(base, classifier.serving_input_receiver_fn).decode()
    assert first.startswith(base + "/") and second != first
    assert sorted(storage.list_committed_directories(base)) == sorted(p.rsplit("/", 1)[1] for p in (first, second))
    manifest = storage.read_manifest(first)
    assert "saved_model.pb" in manifest.files
    local = str(tmp_path / "download")
    storage.download_directory(first, local)
    loaded = tf.saved_model.load(local)
    features, _ = classifier.make_data(8, 3)
    served = loaded.signatures["serving_default"](examples=tf.constant([_example(r) for r in features]))
    predicted = [p["class_ids"] for p in trained_estimator.predict(
        lambda: tf.data.Dataset.from_tensor_slices({"x": features}).batch(8))]
    np.testing.assert_array_equal(served["class_ids"].numpy(), predicted)


def test_export_to_missing_bucket_names_it(trained_estimator, gcs_env):
    with pytest.raises(storage.BucketNotFoundError, match="no-such-bucket"):
        trained_estimator.export_saved_model("gs://no-such-bucket/exports", classifier.serving_input_receiver_fn)
