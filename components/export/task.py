"""Export: writes a SavedModel from the train step's checkpoint, with metadata describing its signatures.

The SavedModel is written by Estimator.export_saved_model into a local temporary directory, then copied
to the output; the output artifact only becomes visible to later steps when the step succeeds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

from .. import _io
from .._estimator import EstimatorOptions, build_estimator, checkpoint_global_step, configure_logging, require_checkpoint, step_params
from .._model_ref import parse_params, resolve_model


def run_export(
    *,
    model_ref: str,
    model_dir: str,
    output_dir: str,
    params_json: str = "{}",
    serving_input_fn_ref: str = "",
    use_tpu: bool = False,
) -> dict[str, Any]:
    """Exports the newest checkpoint in model_dir as a SavedModel at output_dir; returns its metadata."""
    import tensorflow as tf

    if not isinstance(output_dir, str) or not output_dir:
        raise ValueError(f"output_dir must be a directory path or gs:// URI; received output_dir={output_dir!r}.")
    options = EstimatorOptions(use_tpu=use_tpu)
    functions = resolve_model(model_ref, serving_input_fn_ref=serving_input_fn_ref, require_serving=True)
    params = step_params(parse_params(params_json), batch_size=0, data_path="", options=options)
    configure_logging()
    local_model_dir = _io.local_path(model_dir)
    checkpoint = require_checkpoint(local_model_dir, "model_dir")
    destination = _io.local_path(output_dir)
    if tf.io.gfile.exists(os.path.join(destination, "saved_model.pb")):
        raise ValueError(
            f"output_dir={output_dir!r} already holds a SavedModel; export into a new directory "
            f"(KFP gives every run a new one)."
        )
    estimator = build_estimator(functions, local_model_dir, params, options)
    staging = tempfile.mkdtemp(prefix="export-")
    try:
        exported = estimator.export_saved_model(
            staging, functions.serving_input_receiver_fn, checkpoint_path=checkpoint
        )
        exported = exported.decode() if isinstance(exported, bytes) else str(exported)
        _io.copy_tree(exported, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"[export] SavedModel at {destination}", flush=True)
    return {
        "framework": "tensorflow",
        "framework_version": tf.__version__,
        "format": "saved_model",
        "model_ref": model_ref,
        "checkpoint": os.path.basename(checkpoint),
        "global_step": checkpoint_global_step(checkpoint),
        "signatures": describe_signatures(destination),
    }


def describe_signatures(saved_model_dir: str) -> dict[str, Any]:
    """Reads the signature defs of a SavedModel (from saved_model.pb, without loading the graph)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    signatures: dict[str, Any] = {}
    for meta_graph in proto.meta_graphs:
        for name, signature in meta_graph.signature_def.items():
            signatures[name] = {
                "method_name": signature.method_name,
                "inputs": {key: _tensor_info(info) for key, info in signature.inputs.items()},
                "outputs": {key: _tensor_info(info) for key, info in signature.outputs.items()},
            }
    return signatures


def _tensor_info(info) -> dict[str, Any]:
    import tensorflow as tf

    shape = None if info.tensor_shape.unknown_rank else [dim.size for dim in info.tensor_shape.dim]
    return {"dtype": tf.dtypes.as_dtype(info.dtype).name, "shape": shape}
