"""Export: writes a SavedModel from the train step's checkpoint, with metadata describing its signatures.

The SavedModel is written by Estimator.export_saved_model into a local staging directory, then published
into the output with marker files (estimator_lib.storage.publish): `saved_model.pb` is copied after every
variable file and `_COMMITTED` last, so a kill never leaves a loadable-looking partial SavedModel, and a
retry clears a partial output (or reuses a committed one).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .. import _io
from .._estimator import (
    EstimatorOptions,
    build_estimator,
    checkpoint_global_step,
    configure_logging,
    require_checkpoint,
    step_params,
)
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
    local_model_dir = _io.local_path(model_dir, "model_dir")
    checkpoint = require_checkpoint(local_model_dir, "model_dir")
    destination = _io.local_path(output_dir, "output_dir")
    estimator = build_estimator(functions, local_model_dir, params, options)
    _publish_export(estimator, functions, checkpoint, destination)
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


def _publish_export(estimator: Any, functions: Any, checkpoint: str, destination: str) -> None:
    from estimator_lib.storage import leftovers, publish

    leftovers.remove_orphaned_temp_dirs(_STAGING_PREFIX)
    if _already_committed(destination):
        print(f"[export] {destination} was committed by an earlier attempt; keeping it", flush=True)
        return
    staging = leftovers.make_owned_temp_dir(_STAGING_PREFIX)
    try:
        exported = estimator.export_saved_model(
            staging, functions.serving_input_receiver_fn, checkpoint_path=checkpoint
        )
        exported = exported.decode() if isinstance(exported, bytes) else str(exported)
        metadata = {"kind": "saved_model", "checkpoint": os.path.basename(checkpoint)}
        if destination.startswith("gs://"):  # no FUSE mount here: upload with a commit marker
            from estimator_lib.storage import upload_directory

            upload_directory(exported, destination, metadata=metadata)
        else:
            publish.publish_directory(
                exported, destination, last_files=("saved_model.pb", "saved_model.pbtxt"), metadata=metadata
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_STAGING_PREFIX = "estimator_lib_component_export_"


def _already_committed(destination: str) -> bool:
    from estimator_lib.storage import NotCommittedError, publish, read_manifest

    if not destination.startswith("gs://"):
        return publish.reuse_committed(destination) is not None
    try:
        read_manifest(destination)
    except NotCommittedError:
        return False
    return True


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
