"""Refuse to restore a checkpoint whose variables have other shapes than the model's.

TensorFlow restores resource variables without checking shapes: a model with 16 hidden units restored from a
checkpoint of 8 trains and evaluates on silently wrong weights. This check compares every variable of the
current graph with the checkpoint before the session restores it.
"""

from __future__ import annotations

import tensorflow as tf

v1 = tf.compat.v1


def _key_and_shape(variable) -> tuple[str, list]:
    info = getattr(variable, "_save_slice_info", None)  # a partition of a larger variable
    if info is not None:
        return info.full_name, list(info.full_shape)
    return variable.op.name, variable.shape.as_list()


def check_shapes_match(checkpoint_path: str) -> None:
    """Raises ValueError naming the first variables whose checkpoint shape differs from the model's."""
    try:
        reader = tf.train.load_checkpoint(checkpoint_path)
    except (tf.errors.OpError, ValueError, RuntimeError):
        return  # missing or damaged: the restore itself reports it (and eval/predict may fall back)
    saved = reader.get_variable_to_shape_map()
    mismatches = []
    for variable in v1.global_variables():
        key, shape = _key_and_shape(variable)
        if key in saved and None not in shape and list(saved[key]) != shape:
            mismatches.append(f"{key}: checkpoint {list(saved[key])}, model {shape}")
    if mismatches:
        raise ValueError(
            f"Checkpoint {checkpoint_path} does not fit the model: variable shapes differ ({'; '.join(mismatches[:5])}"
            f"{'; ...' if len(mismatches) > 5 else ''}). The model_fn or params changed since the checkpoint was "
            "written: use the params it was trained with, or a new model_dir (warm_start_from can map variables)."
        )
