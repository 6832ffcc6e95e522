"""Fixtures for the component tasks: one tiny trained model shared by the tests of a module."""

import pytest
from components_testlib import MODEL_REF, TINY_PARAMS_JSON


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory):
    """A checkpoint directory trained for 40 steps by the train task."""
    from estimator_kfp.components.train.task import TrainRequest, run_train

    model_dir = str(tmp_path_factory.mktemp("components") / "model")
    run_train(
        TrainRequest(
            model_ref=MODEL_REF, output_model_dir=model_dir, params_json=TINY_PARAMS_JSON, train_steps=40,
            train_batch_size=16, tf_random_seed=1,
        )
    )
    return model_dir
