"""Predict: batch predictions with Estimator.predict over the model's PREDICT input, written as files.

Output directory layout: `predictions.jsonl` (one JSON object per example) or `predictions.tfrecord`
(one tf.train.Example per example), written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from typing import Any

import numpy as np

from .. import _io
from .._estimator import (
    EstimatorOptions,
    build_estimator,
    check_int,
    configure_logging,
    make_input_fn,
    require_checkpoint,
    step_params,
)
from .._model_ref import parse_params, resolve_model

OUTPUT_FORMATS = {"jsonl": "predictions.jsonl", "tfrecord": "predictions.tfrecord"}


def run_predict(
    *,
    model_ref: str,
    model_dir: str,
    output_dir: str,
    params_json: str = "{}",
    input_fn_ref: str = "",
    predict_batch_size: int = 0,
    predict_data: str = "",
    output_format: str = "jsonl",
    max_predictions: int = 0,
    predict_keys: str = "",
    use_tpu: bool = False,
) -> dict[str, Any]:
    """Writes predictions for the PREDICT input (all of it, or max_predictions rows); returns a summary."""
    import tensorflow as tf

    from estimator_lib.mode_keys import ModeKeys

    if output_format not in OUTPUT_FORMATS:
        raise ValueError(
            f"output_format must be one of {sorted(OUTPUT_FORMATS)}; received output_format={output_format!r}."
        )
    check_int(max_predictions, "max_predictions", minimum=0)
    if not isinstance(output_dir, str) or not output_dir:
        raise ValueError(f"output_dir must be a directory path or gs:// URI; received output_dir={output_dir!r}.")
    keys = [key.strip() for key in predict_keys.split(",") if key.strip()] or None
    options = EstimatorOptions(use_tpu=use_tpu, predict_batch_size=predict_batch_size)
    functions = resolve_model(model_ref, input_fn_ref=input_fn_ref)
    params = step_params(
        parse_params(params_json), batch_size=predict_batch_size, data_path=predict_data, options=options
    )
    configure_logging()
    local_model_dir = _io.local_path(model_dir, "model_dir")
    checkpoint = require_checkpoint(local_model_dir, "model_dir")
    estimator = build_estimator(functions, local_model_dir, params, options)
    predictions = estimator.predict(
        make_input_fn(functions, ModeKeys.PREDICT, features_only=True), predict_keys=keys, checkpoint_path=checkpoint
    )
    destination = _io.local_path(output_dir, "output_dir")
    tf.io.gfile.makedirs(destination)
    path = os.path.join(destination, OUTPUT_FORMATS[output_format])
    _remove_temp_files_of(destination, OUTPUT_FORMATS[output_format])  # from a killed earlier attempt
    writer = write_jsonl if output_format == "jsonl" else write_tfrecord
    rows, columns = writer(path, _limited(predictions, max_predictions))
    print(f"[predict] wrote {rows} predictions to {path}", flush=True)
    return {"rows": rows, "columns": columns, "format": output_format, "file": os.path.basename(path)}


def _remove_temp_files_of(directory: str, file_name: str) -> None:
    if "://" not in directory:
        from estimator_lib.storage.leftovers import remove_temp_files_of

        remove_temp_files_of(directory, file_name)


def _limited(predictions: Iterable[Any], limit: int) -> Iterable[dict[str, Any]]:
    for index, prediction in enumerate(predictions):
        if limit and index >= limit:
            return
        if not isinstance(prediction, dict):
            prediction = {"predictions": prediction}
        yield prediction


def to_jsonable(value: Any) -> Any:
    """numpy arrays, scalars and bytes as plain JSON values."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    array = np.asarray(value)
    if array.dtype.kind in ("S", "O"):
        return [to_jsonable(item) for item in array.reshape(-1)] if array.ndim else to_jsonable(array.item())
    if array.ndim == 0:
        return array.item()
    return array.tolist()


def _atomic_write(path: str, write_rows) -> tuple[int, list[str]]:
    import tensorflow as tf

    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    try:
        result = write_rows(temporary)
        tf.io.gfile.rename(temporary, path, overwrite=True)
    finally:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
    return result


def write_jsonl(path: str, rows: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """One JSON object per line; returns (row count, sorted column names)."""
    import tensorflow as tf

    def write(temporary: str) -> tuple[int, list[str]]:
        count, columns = 0, set()
        with tf.io.gfile.GFile(temporary, "w") as handle:
            for row in rows:
                record = {str(key): to_jsonable(value) for key, value in row.items()}
                columns.update(record)
                handle.write(json.dumps(record) + "\n")
                count += 1
        return count, sorted(columns)

    return _atomic_write(path, write)


def write_tfrecord(path: str, rows: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """One tf.train.Example per row (floats, int64s or bytes per key); returns (row count, column names)."""
    import tensorflow as tf

    def feature(value: Any) -> tf.train.Feature:
        array = np.asarray(value).reshape(-1)
        if array.dtype.kind == "f":
            return tf.train.Feature(float_list=tf.train.FloatList(value=array.astype(np.float32)))
        if array.dtype.kind in ("i", "u", "b"):
            return tf.train.Feature(int64_list=tf.train.Int64List(value=array.astype(np.int64)))
        return tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[v if isinstance(v, bytes) else str(v).encode() for v in array])
        )

    def write(temporary: str) -> tuple[int, list[str]]:
        count, columns = 0, set()
        with tf.io.TFRecordWriter(temporary) as writer:
            for row in rows:
                example = tf.train.Example(
                    features=tf.train.Features(feature={str(k): feature(v) for k, v in row.items()})
                )
                columns.update(str(k) for k in row)
                writer.write(example.SerializeToString())
                count += 1
        return count, sorted(columns)

    return _atomic_write(path, write)
