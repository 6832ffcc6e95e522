"""Paths and files for component outputs: local folders, GCS FUSE mounts and gs:// URIs alike."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

GCS_FUSE_ROOT = "/gcs"


def local_path(uri: str, argument: str = "path") -> str:
    """Maps `gs://bucket/x` to the Vertex GCS FUSE mount `/gcs/bucket/x` when it exists, else returns `uri`.

    Vertex mounts buckets under /gcs in pipeline steps and custom jobs; elsewhere TensorFlow's gfile reads
    and writes gs:// directly, so the URI is kept. `uri` is validated first (components._uris.check_uri):
    no credentials, queries, `..` or mistyped schemes reach the file system.
    """
    from ._uris import check_uri

    check_uri(uri, argument)
    if uri.startswith("gs://") and os.path.isdir(GCS_FUSE_ROOT):
        return os.path.join(GCS_FUSE_ROOT, uri[len("gs://"):])
    return uri


def copy_tree(source: str, destination: str) -> None:
    """Copies a directory tree with tf.io.gfile (works across local paths and gs://)."""
    import tensorflow as tf

    for directory, _, files in tf.io.gfile.walk(source):
        relative = os.path.relpath(directory, source)
        target_dir = destination if relative == "." else os.path.join(destination, relative)
        tf.io.gfile.makedirs(target_dir)
        for name in files:
            tf.io.gfile.copy(os.path.join(directory, name), os.path.join(target_dir, name), overwrite=True)


def write_json(path: str, value: Any) -> None:
    """Writes JSON to a temporary name then renames it, so readers never see half a file."""
    import tensorflow as tf

    parent = os.path.dirname(path)
    if parent:
        tf.io.gfile.makedirs(parent)
    temporary = f"{path}.tmp-{uuid.uuid4().hex}"
    with tf.io.gfile.GFile(temporary, "w") as handle:
        handle.write(json.dumps(value, indent=2, sort_keys=True, default=str))
    tf.io.gfile.rename(temporary, path, overwrite=True)


def read_json(path: str) -> Any:
    import tensorflow as tf

    with tf.io.gfile.GFile(path) as handle:
        return json.load(handle)
