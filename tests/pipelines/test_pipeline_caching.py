"""What caching may skip: a training step re-runs whenever one of its inputs (steps, params, ...) changes."""

import json

import pytest
from estimator_kfp.components.train.component import train_op
from kfp import dsl, local

PARAMS = {"hidden_units": [4], "n_examples": 32, "seed": 1}


@pytest.fixture
def caching_runner(tmp_path):
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path), enable_caching=True)
    yield
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path), enable_caching=False)


@dsl.pipeline(name="cached-training")
def cached_training(params_json: str, train_steps: int) -> dsl.Model:
    # The component's default: caching on (the training pipeline turns it off unless cache_training=True).
    return train_op(model_ref="example_models.classifier", params_json=params_json, train_steps=train_steps).outputs[
        "model"
    ]


def _train(**overrides):
    arguments = {"params_json": json.dumps(PARAMS), "train_steps": 3}
    arguments.update(overrides)
    return cached_training(**arguments).output


@pytest.mark.slow
def test_cache_reuses_identical_inputs_and_reruns_changed_ones(caching_runner):
    first = _train()
    assert _train().uri == first.uri  # identical inputs: served from the cache
    changed_steps = _train(train_steps=4)
    assert changed_steps.uri != first.uri and changed_steps.metadata["global_step"] == 4
    # params_json is an input of the training task in the same way (see test_pipeline_compile.py).
