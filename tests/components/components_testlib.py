"""Constants shared by the component tests (a uniquely named module: conftest is not importable)."""

import json

MODEL_REF = "example_models.classifier"
TINY_PARAMS = {"hidden_units": [8], "learning_rate": 0.2, "n_examples": 96, "seed": 3}
TINY_PARAMS_JSON = json.dumps(TINY_PARAMS)


def list_input_fn(mode, params):
    """An input_fn returning something no estimator can read."""
    return [[1.0, 2.0]]
