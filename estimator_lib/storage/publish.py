"""Publish a finished directory into a fixed output path, whole or not at all, with marker files.

A pipeline step cannot choose its output path (KFP hands it one) and on Vertex that path is a Cloud
Storage FUSE mount (`/gcs/...`), where renaming a directory copies it object by object. So instead of
renaming a directory into place, `publish_directory`:

1. writes `_PUBLISHING` first (the output is being written by us; a retry may clear it);
2. copies every file under a temporary name and renames it (a file never shows truncated under its
   final name; on FUSE an object appears only when it is closed anyway), `last_files` (the ones that
   make the directory look usable, e.g. `saved_model.pb`) after all the others;
3. writes the `_COMMITTED` manifest (sizes, CRC32C, MD5 of every file) and removes `_PUBLISHING`.

A kill at any moment leaves either nothing, a partial directory without `saved_model.pb` and with
`_PUBLISHING` (a retry clears and rewrites it), or the complete directory. A retry into a committed
output checks it against its manifest and reuses it. A non-empty output without either marker is not
ours and is never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Mapping, Sequence

from estimator_lib.storage.errors import NonEmptyTargetError, NotCommittedError
from estimator_lib.storage.integrity import COMMIT_MARKER, Manifest, list_local_files, manifest_for_files, verify_file
from estimator_lib.storage.local import check_directory_source

PUBLISHING_MARKER = "_PUBLISHING"
_MARKERS = (COMMIT_MARKER, PUBLISHING_MARKER)


def _log():
    import logging

    return logging.getLogger("estimator_lib.storage")


def _write_file_atomically(path: str, data: bytes) -> None:
    temporary = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def copy_file(source: str, target: str) -> None:
    """Copies one file under a temporary name, fsyncs, renames: the final name only ever holds it whole."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    temporary = f"{target}.tmp-{uuid.uuid4().hex[:12]}"
    with open(source, "rb") as reader, open(temporary, "wb") as writer:
        shutil.copyfileobj(reader, writer, 4 * 1024 * 1024)
        writer.flush()
        os.fsync(writer.fileno())
    os.replace(temporary, target)


def read_committed(output_dir: str, *, verify: bool = True) -> Manifest | None:
    """The manifest of a committed output (files checked against it when `verify`), else None."""
    marker = os.path.join(output_dir, COMMIT_MARKER)
    if not os.path.isfile(marker):
        return None
    try:
        with open(marker, "rb") as handle:
            manifest = Manifest.from_json(handle.read(), source=marker)
    except NotCommittedError as error:
        _log().warning("%s", error)
        return None
    if verify:
        for name, digest in manifest.files.items():
            path = os.path.join(output_dir, name)
            if not os.path.isfile(path):
                _log().warning("Committed output %s lacks %s; treating it as uncommitted.", output_dir, name)
                return None
            verify_file(path, digest, source=f"{output_dir} ({name})")
    return manifest


def reuse_committed(output_dir: str) -> Manifest | None:
    """The verified manifest of an output an earlier attempt committed (finishing its clean-up: a kill
    between `_COMMITTED` and the removal of `_PUBLISHING` leaves both), else None."""
    manifest = read_committed(output_dir)
    if manifest is not None:
        _remove_marker_temps(output_dir)
        if os.path.exists(os.path.join(output_dir, PUBLISHING_MARKER)):
            os.remove(os.path.join(output_dir, PUBLISHING_MARKER))
    return manifest


def _remove_marker_temps(output_dir: str) -> None:
    """A kill while writing a marker leaves `_PUBLISHING.tmp-<id>` / `_COMMITTED.tmp-<id>`: ours, removable."""
    for name in os.listdir(output_dir):
        if any(name.startswith(marker + ".tmp-") for marker in _MARKERS):
            os.remove(os.path.join(output_dir, name))


def clear_partial_output(output_dir: str) -> bool:
    """Empties an output an earlier attempt of ours left half-written (it holds `_PUBLISHING` and no valid
    `_COMMITTED`); returns True when it did. `_PUBLISHING` is removed last, so a kill while clearing
    leaves it recognisable."""
    if not os.path.isfile(os.path.join(output_dir, PUBLISHING_MARKER)):
        return False
    _log().warning("Removing the partial output %s left by an interrupted attempt.", output_dir)
    marker = os.path.join(output_dir, COMMIT_MARKER)
    if os.path.lexists(marker):
        os.remove(marker)
    for name in os.listdir(output_dir):
        if name == PUBLISHING_MARKER:
            continue
        path = os.path.join(output_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    os.remove(os.path.join(output_dir, PUBLISHING_MARKER))
    return True


def publish_directory(
    source: str,
    output_dir: str,
    *,
    last_files: Sequence[str] = (),
    metadata: Mapping[str, object] | None = None,
    argument: str = "output_dir",
) -> Manifest:
    """Publishes the files of local directory `source` into `output_dir` (see the module docstring).

    `output_dir` is a local path or a FUSE-mounted bucket path. Returns the committed manifest (the
    earlier one when a previous attempt already committed this output).
    """
    check_directory_source(source, argument="source")
    existing = reuse_committed(output_dir)
    if existing is not None:
        _log().info("%s is already committed by an earlier attempt; reusing it.", output_dir)
        return existing
    if os.path.isdir(output_dir):
        _remove_marker_temps(output_dir)
        clear_partial_output(output_dir)
        leftovers = sorted(os.listdir(output_dir))
        if leftovers:
            raise NonEmptyTargetError(
                f"`{argument}` {output_dir} already holds files {leftovers[:5]} that no attempt of this step wrote "
                f"(no {COMMIT_MARKER} or {PUBLISHING_MARKER} marker); nothing was overwritten. Publish into a new "
                "directory (KFP gives every run a new one) or remove these files."
            )
    elif os.path.lexists(output_dir):
        raise NonEmptyTargetError(f"`{argument}` {output_dir} is a file; pass a directory path.")
    os.makedirs(output_dir, exist_ok=True)
    _write_file_atomically(os.path.join(output_dir, PUBLISHING_MARKER),
                           json.dumps({"pid": os.getpid(), "source": os.path.basename(source)}).encode())
    files = list_local_files(source, exclude=_MARKERS)
    ordered = sorted(files, key=lambda name: (name in last_files, name))
    for name in ordered:
        copy_file(files[name], os.path.join(output_dir, *name.split("/")))
    manifest = manifest_for_files(files, metadata)
    _write_file_atomically(os.path.join(output_dir, COMMIT_MARKER), manifest.to_json().encode())
    os.remove(os.path.join(output_dir, PUBLISHING_MARKER))
    return manifest
