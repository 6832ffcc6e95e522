"""Export outputs: how one head of a model becomes one SavedModel signature."""

from __future__ import annotations

import abc
from collections.abc import Mapping

import tensorflow as tf

v1 = tf.compat.v1
_sig = v1.saved_model.signature_def_utils
_info = v1.saved_model.utils.build_tensor_info
_consts = v1.saved_model.signature_constants


def _single_string_input(receiver_tensors: Mapping[str, tf.Tensor], kind: str) -> tf.Tensor:
    """Classify/regress signatures take exactly one string tensor of serialized tf.Examples."""
    if len(receiver_tensors) != 1:
        raise ValueError(
            f"A {kind} signature needs exactly one string input tensor (serialized tf.Example); the serving "
            f"receiver has {sorted(receiver_tensors)}. Use build_parsing_serving_input_receiver_fn, or a "
            "PredictOutput for raw tensor inputs."
        )
    (tensor,) = receiver_tensors.values()
    if tensor.dtype != tf.string:
        raise ValueError(
            f"A {kind} signature needs a string input tensor (serialized tf.Example); received dtype "
            f"{tensor.dtype.name}. Use a PredictOutput for raw tensor inputs."
        )
    return tensor


class ExportOutput(abc.ABC):
    """One output head of an exported model."""

    @abc.abstractmethod
    def as_signature_def(self, receiver_tensors: Mapping[str, tf.Tensor]):
        """Returns the SignatureDef proto for these inputs."""

    @property
    @abc.abstractmethod
    def outputs(self) -> dict[str, tf.Tensor]:
        """The named output tensors (used for predict() parity and tests)."""


class ClassificationOutput(ExportOutput):
    """Class scores and/or class names, served through the Classify API."""

    def __init__(self, scores: tf.Tensor | None = None, classes: tf.Tensor | None = None):
        if scores is None and classes is None:
            raise ValueError("ClassificationOutput needs scores, classes or both; received neither.")
        if scores is not None and not (isinstance(scores, tf.Tensor) and scores.dtype.is_floating):
            raise ValueError(f"ClassificationOutput scores must be a float Tensor; received {scores!r}.")
        if classes is not None and not (isinstance(classes, tf.Tensor) and classes.dtype == tf.string):
            raise ValueError(
                f"ClassificationOutput classes must be a string Tensor (use tf.strings.as_string on ids); "
                f"received {classes!r}."
            )
        self.scores = scores
        self.classes = classes

    @property
    def outputs(self) -> dict[str, tf.Tensor]:
        found = {}
        if self.classes is not None:
            found[_consts.CLASSIFY_OUTPUT_CLASSES] = self.classes
        if self.scores is not None:
            found[_consts.CLASSIFY_OUTPUT_SCORES] = self.scores
        return found

    def as_signature_def(self, receiver_tensors):
        examples = _single_string_input(receiver_tensors, "classification")
        return _sig.classification_signature_def(examples, self.classes, self.scores)


class RegressionOutput(ExportOutput):
    """One float value per example, served through the Regress API."""

    def __init__(self, value: tf.Tensor):
        if not (isinstance(value, tf.Tensor) and value.dtype.is_floating):
            raise ValueError(f"RegressionOutput value must be a float Tensor; received {value!r}.")
        self.value = value

    @property
    def outputs(self) -> dict[str, tf.Tensor]:
        return {_consts.REGRESS_OUTPUTS: self.value}

    def as_signature_def(self, receiver_tensors):
        examples = _single_string_input(receiver_tensors, "regression")
        return _sig.regression_signature_def(examples, self.value)


class PredictOutput(ExportOutput):
    """Any named tensors, served through the Predict API with the receiver's inputs as they are."""

    SINGLE_OUTPUT_NAME = "output"

    def __init__(self, outputs: tf.Tensor | Mapping[str, tf.Tensor]):
        if not isinstance(outputs, Mapping):
            outputs = {self.SINGLE_OUTPUT_NAME: outputs}
        for key, value in outputs.items():
            if not isinstance(key, str):
                raise ValueError(f"PredictOutput keys must be strings; received key {key!r}.")
            if not isinstance(value, (tf.Tensor, tf.SparseTensor, tf.Variable)):
                raise ValueError(f"PredictOutput[{key!r}] must be a Tensor; received {value!r}.")
        self._outputs = dict(outputs)

    @property
    def outputs(self) -> dict[str, tf.Tensor]:
        return dict(self._outputs)

    def as_signature_def(self, receiver_tensors):
        return _sig.build_signature_def(
            inputs={name: _info(t) for name, t in receiver_tensors.items()},
            outputs={name: _info(t) for name, t in self._outputs.items()},
            method_name=_consts.PREDICT_METHOD_NAME,
        )
