"""Writing a SavedModel from a model_fn and a checkpoint, atomically.

The export is written under a temporary name beside its final one and renamed when complete, so a
reader never sees a half-written export (on a local disk or any file system with atomic rename).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from estimator_lib import _graph
from estimator_lib.export.receivers import ServingInputReceiver, TensorServingInputReceiver
from estimator_lib.mode_keys import ModeKeys
from estimator_lib.run_config import RunConfig

v1 = tf.compat.v1
ModelFn = Callable[[Any, Any, str, RunConfig], Any]  # (features, labels, mode, config) -> EstimatorSpec
DEFAULT_KEY = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
TEMP_PREFIX = "temp-"
_BUCKET_STAGING_PREFIX = "estimator_lib_export_"


def _check_receiver(receiver: Any) -> Any:
    if not isinstance(receiver, (ServingInputReceiver, TensorServingInputReceiver)):
        raise TypeError(
            "serving_input_receiver_fn must return a ServingInputReceiver or TensorServingInputReceiver; "
            f"received {type(receiver).__name__}: {receiver!r}."
        )
    return receiver


def signature_defs(export_outputs: dict, receiver: Any) -> dict:
    """One SignatureDef per export output (plus one per receiver alternative); invalid extras are skipped."""
    if not export_outputs:
        raise ValueError("model_fn returned no export_outputs and no predictions in PREDICT mode; nothing to export.")
    receivers = {None: receiver.receiver_tensors}
    for alt_name, alt_tensors in (receiver.receiver_tensors_alternatives or {}).items():
        receivers[alt_name] = alt_tensors
    defs = {}
    for receiver_name, tensors in receivers.items():
        for output_name, output in export_outputs.items():
            key = output_name if receiver_name is None else f"{output_name}:{receiver_name}"
            try:
                defs[key] = output.as_signature_def(tensors)
            except ValueError as error:
                if key == DEFAULT_KEY:
                    raise ValueError(f"The default serving signature cannot be built: {error}") from None
                tf.get_logger().warning("Signature %r left out of the export: %s", key, error)
    return defs


def _new_export_dir(export_dir_base: str) -> tuple[str, str]:
    tf.io.gfile.makedirs(export_dir_base)
    while True:
        stamp = str(int(time.time()))
        final = os.path.join(export_dir_base, stamp)
        temp = os.path.join(export_dir_base, TEMP_PREFIX + stamp)
        if not tf.io.gfile.exists(final) and not tf.io.gfile.exists(temp):
            return temp, final
        time.sleep(1)


def _copy_assets_extra(assets_extra: dict, export_dir: str) -> None:
    if not isinstance(assets_extra, dict):
        raise ValueError(f"assets_extra must be a dict of destination -> source path; received {assets_extra!r}.")
    for destination, source in assets_extra.items():
        destination = os.path.normpath(destination)
        if os.path.isabs(destination) or destination.startswith(".."):
            raise ValueError(
                f"assets_extra destination {destination!r} must be a relative path inside assets.extra/."
            )
        if not tf.io.gfile.exists(source):
            raise ValueError(f"assets_extra source {source!r} (for {destination!r}) does not exist.")
        target = os.path.join(export_dir, "assets.extra", destination)
        tf.io.gfile.makedirs(os.path.dirname(target))
        tf.io.gfile.copy(source, target, overwrite=True)


def build_serving_graph(
    model_fn: ModelFn, config: RunConfig, serving_input_receiver_fn: Callable, mode: str = ModeKeys.PREDICT
):
    """Builds receiver + model_fn(PREDICT) in the current graph; returns (receiver, spec)."""
    receiver = _check_receiver(serving_input_receiver_fn())
    spec = model_fn(receiver.features, None, mode, config)
    return receiver, spec


def export(
    *,
    model_fn: ModelFn,
    config: RunConfig,
    tags: list[list[str]],
    export_dir_base: str,
    serving_input_receiver_fn: Callable,
    assets_extra: dict | None,
    as_text: bool,
    checkpoint_path: str,
) -> bytes:
    """Writes one meta graph per entry of `tags` (the first with the variables) from model_fn's PREDICT
    graph (features, labels, mode, config) -> EstimatorSpec, restored from checkpoint_path."""
    if export_dir_base.startswith("gs://"):
        return _export_to_bucket(
            model_fn=model_fn,
            config=config,
            tags=tags,
            export_dir_base=export_dir_base,
            serving_input_receiver_fn=serving_input_receiver_fn,
            assets_extra=assets_extra,
            as_text=as_text,
            checkpoint_path=checkpoint_path,
        )
    if "://" not in export_dir_base:
        from estimator_lib.storage import leftovers

        leftovers.remove_stale_export_temps(export_dir_base)
    temp_dir, final_dir = _new_export_dir(export_dir_base)
    try:
        builder = v1.saved_model.Builder(temp_dir)
        for index, graph_tags in enumerate(tags):
            _add_meta_graph(
                builder, model_fn, config, serving_input_receiver_fn, checkpoint_path, graph_tags, first=index == 0
            )
        builder.save(as_text=as_text)
        if assets_extra:
            _copy_assets_extra(assets_extra, temp_dir)
        tf.io.gfile.rename(temp_dir, final_dir)
    except BaseException:
        if tf.io.gfile.exists(temp_dir):
            tf.io.gfile.rmtree(temp_dir)
        raise
    tf.get_logger().info("SavedModel written to %s", final_dir)
    return final_dir.encode()


def _export_to_bucket(*, export_dir_base: str, **kwargs) -> bytes:
    """On Cloud Storage a rename is a copy object by object, so a reader could see half an export.
    Write it on local disk first, then upload it with checksums and a commit marker written last
    (estimator_lib.storage); readers take only committed exports."""
    import shutil

    from estimator_lib import storage
    from estimator_lib.storage import leftovers

    storage.parse_uri(export_dir_base, argument="export_dir_base")
    leftovers.remove_orphaned_temp_dirs(_BUCKET_STAGING_PREFIX)
    staging = leftovers.make_owned_temp_dir(_BUCKET_STAGING_PREFIX)
    try:
        local_dir = export(export_dir_base=staging, **kwargs).decode()
        stamp = int(os.path.basename(local_dir))
        taken = set(storage.list_committed_directories(export_dir_base))
        while str(stamp) in taken:
            stamp += 1
        destination = f"{export_dir_base.rstrip('/')}/{stamp}"
        storage.upload_directory(local_dir, destination, metadata={"kind": "saved_model"})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    tf.get_logger().info("SavedModel committed to %s", destination)
    return destination.encode()


def _add_meta_graph(
    builder, model_fn: ModelFn, config: RunConfig, serving_input_receiver_fn, checkpoint_path, tags, *, first: bool
) -> None:
    with _graph.fresh_graph(config.tf_random_seed):
        v1.train.get_or_create_global_step()
        receiver, spec = build_serving_graph(model_fn, config, serving_input_receiver_fn)
        defs = signature_defs(spec.export_outputs, receiver)
        saver = spec.scaffold.saver or _graph.make_saver(config)
        if saver.saver_def is None:
            saver.build()
        local_init = spec.scaffold.local_init_op or tf.group(
            v1.local_variables_initializer(), v1.tables_initializer()
        )
        with _graph.plain_session(config) as session:
            saver.restore(session, checkpoint_path)
            if first:
                builder.add_meta_graph_and_variables(
                    session,
                    tags,
                    signature_def_map=defs,
                    assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                    main_op=local_init,
                    strip_default_attrs=True,
                    saver=saver,
                )
            else:
                builder.add_meta_graph(
                    tags,
                    signature_def_map=defs,
                    assets_collection=v1.get_collection(v1.GraphKeys.ASSET_FILEPATHS),
                    main_op=local_init,
                    strip_default_attrs=True,
                    saver=saver,
                )
