"""Reference targets for the model-reference tests: own code, imported code, a module, a built-in."""

import functools
import os  # noqa: F401 - reached through by a refused reference
import sys

from example_models.classifier import input_fn as borrowed_input_fn  # noqa: F401 - defined in another package


class Model:
    @staticmethod
    def input_fn(mode, params):
        from example_models import classifier

        return classifier.input_fn(mode, params)


class _CallableInputFn:
    def __call__(self, mode, params):
        return Model.input_fn(mode, params)


callable_input_fn = _CallableInputFn()


def _scaled_input_fn(mode, params, scale=1):
    return Model.input_fn(mode, params)


partial_input_fn = functools.partial(_scaled_input_fn, scale=2)


def exiting_input_fn(mode, params):
    sys.exit(0)


def none_input_fn(mode, params):
    return None
