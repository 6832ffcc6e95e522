"""Moves directories to and from Cloud Storage with a retry policy, checksums and a commit marker.

Writing: every file is uploaded (retried on 503/429/5xx and dropped connections), its size, CRC32C and MD5
as reported by the server are compared with the local file, and only then is the marker (a JSON manifest of
all files) written, last. Reading: only prefixes with a marker count; only the files the marker lists are
downloaded, each checked against the manifest, into a temporary sibling that is renamed into place.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping

from estimator_lib.storage import client as client_lib
from estimator_lib.storage import local
from estimator_lib.storage.errors import (
    BucketNotFoundError,
    IntegrityError,
    InvalidStorageURIError,
    NonEmptyTargetError,
    NotCommittedError,
)
from estimator_lib.storage.integrity import (
    COMMIT_MARKER,
    FileDigest,
    Manifest,
    list_local_files,
    manifest_for_files,
    verify_file,
)
from estimator_lib.storage.uri import StorageLocation, gcs_join, parse_uri, safe_relative_path

logger = logging.getLogger(__name__)


def _gcs(value, argument: str) -> StorageLocation:
    location = value if isinstance(value, StorageLocation) else parse_uri(value, argument=argument)
    if not location.is_gcs:
        raise InvalidStorageURIError(f"`{argument}` must be a gs://bucket/path URI; received {location.uri!r}.")
    return location


def _check_marker_name(marker_name: str) -> None:
    if not isinstance(marker_name, str) or not marker_name or "/" in marker_name or marker_name in (".", ".."):
        raise ValueError(f"`marker_name` must be a plain object name such as '_COMMITTED'; received {marker_name!r}.")


def _object_uri(location: StorageLocation, name: str) -> str:
    return f"gs://{location.bucket}/{name}"


def _upload_one(bucket, name: str, path: str, expected: FileDigest, *, retry, timeout: float, uri: str) -> None:
    blob = bucket.blob(name)
    with client_lib.translate_errors(uri, "upload to"):
        blob.upload_from_filename(path, checksum="crc32c", retry=retry, timeout=timeout)
    remote = FileDigest(blob.size, blob.crc32c, blob.md5_hash)
    problem = expected.mismatch(remote)
    if problem or blob.size is None:
        raise IntegrityError(
            f"The upload of {path} to {uri} does not match the local file ({problem or 'no size reported'}); "
            "it does not count and nothing was committed. Run the step again."
        )


def upload_files(
    files: Mapping[str, str],
    destination,
    *,
    marker_name: str = COMMIT_MARKER,
    metadata: Mapping[str, object] | None = None,
    client=None,
    retry=None,
    timeout: float = 60.0,
) -> Manifest:
    """Uploads `files` (relative name -> local path) below `destination`, verifies them, then writes the marker.

    Returns the committed manifest. If anything fails the marker is not written, so readers never see the set.
    """
    client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
    _check_marker_name(marker_name)
    location = _gcs(destination, "destination")
    for name in files:
        if safe_relative_path(name) != name:
            raise InvalidStorageURIError(f"File names must be normalised relative paths; received {name!r}.")
    client = client or client_lib.make_client()
    retry = retry or client_lib.default_retry()
    manifest = manifest_for_files(files, metadata)
    bucket = client.bucket(location.bucket)
    for name, path in sorted(files.items()):
        object_name = gcs_join(location.path, name)
        _upload_one(bucket, object_name, path, manifest.files[name], retry=retry, timeout=timeout,
                    uri=_object_uri(location, object_name))
    marker = gcs_join(location.path, marker_name)
    marker_uri = _object_uri(location, marker)
    with client_lib.translate_errors(marker_uri, "write the commit marker"):
        bucket.blob(marker).upload_from_string(
            manifest.to_json().encode("utf-8"), content_type="application/json", checksum="crc32c",
            retry=retry, timeout=timeout,
        )
    logger.info("Committed %d files to %s", len(files), location.uri)
    return manifest


def read_manifest(uri, *, marker_name: str = COMMIT_MARKER, client=None, retry=None,
                  timeout: float = 60.0) -> Manifest:
    """The manifest of a committed prefix; NotCommittedError when the marker is absent or unreadable."""
    from google.api_core import exceptions as api  # noqa: PLC0415

    client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
    _check_marker_name(marker_name)
    location = _gcs(uri, "uri")
    client = client or client_lib.make_client()
    marker = gcs_join(location.path, marker_name)
    marker_uri = _object_uri(location, marker)
    try:
        with client_lib.translate_errors(marker_uri, "read", missing_means_bucket=False):
            text = client.bucket(location.bucket).blob(marker).download_as_bytes(
                retry=retry or client_lib.default_retry(), timeout=timeout, checksum="crc32c")
    except api.NotFound:
        if not _bucket_exists(client, location):
            raise _bucket_missing(location, "read") from None
        raise NotCommittedError(
            f"{location.uri} is not committed (no {marker_name} marker): it does not exist, is still being "
            "written, or its writer crashed. Point at a committed directory."
        ) from None
    return Manifest.from_json(text, source=marker_uri)


def _bucket_missing(location: StorageLocation, action: str) -> BucketNotFoundError:
    return BucketNotFoundError(
        f"Cannot {action} {location.uri}: the bucket gs://{location.bucket} does not exist. Create it or fix the URI."
    )


def _bucket_exists(client, location: StorageLocation) -> bool:
    """Best effort: True unless the bucket is known to be missing (a 403 on the bucket counts as existing)."""
    from google.api_core import exceptions as api  # noqa: PLC0415

    try:
        return client.bucket(location.bucket).exists()
    except api.GoogleAPICallError:
        return True


def list_names(uri, *, client=None, retry=None, delimiter: str | None = None) -> tuple[list[str], list[str]]:
    """(object names, sub-prefixes) directly or recursively below `uri`; names are relative to it."""
    location = _gcs(uri, "uri")
    client = client or client_lib.make_client()
    prefix = location.path + "/" if location.path else ""
    with client_lib.translate_errors(location.uri, "list"):
        iterator = client.list_blobs(location.bucket, prefix=prefix, delimiter=delimiter,
                                     retry=retry or client_lib.default_retry())
        names = [blob.name[len(prefix):] for blob in iterator]
        prefixes = sorted(p[len(prefix):].rstrip("/") for p in (iterator.prefixes or ()))
    return names, prefixes


def upload_directory(source: str, destination, *, client=None, retry=None, timeout: float = 60.0,
                     metadata: Mapping[str, object] | None = None) -> Manifest:
    """Copies a local directory (a checkpoint dir, a SavedModel) to a new gs:// prefix and commits it.

    The destination must hold no committed data; leftovers of an earlier crashed attempt (no marker) are
    deleted first. Raises NonEmptyTargetError if the destination is already committed.
    """
    client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
    source_location = parse_uri(source, argument="source")
    if source_location.is_gcs:
        raise InvalidStorageURIError(f"`source` must be a local directory; received {source_location.uri!r}.")
    local.check_directory_source(source_location.path, argument="source")
    location = _gcs(destination, "destination")
    if not location.path:
        raise InvalidStorageURIError(
            f"`destination` {location.uri!r} is a whole bucket; pass a prefix such as gs://bucket/models/run1."
        )
    client = client or client_lib.make_client()
    retry = retry or client_lib.default_retry()
    names, _ = list_names(location, client=client, retry=retry)
    if COMMIT_MARKER in names:
        raise NonEmptyTargetError(
            f"`destination` {location.uri} already holds a committed directory; results are never overwritten. "
            "Pass a new prefix."
        )
    if names:
        logger.warning("%s holds %d objects from an uncommitted earlier attempt; replacing them.",
                       location.uri, len(names))
        delete_names(client, location, names, retry=retry)
    files = list_local_files(source_location.path)
    return upload_files(files, location, client=client, retry=retry, timeout=timeout, metadata=metadata)


def delete_names(client, location: StorageLocation, names, *, retry) -> None:
    """Deletes the given relative object names below `location` (already-missing ones are fine)."""
    from google.api_core import exceptions as api  # noqa: PLC0415

    bucket = client.bucket(location.bucket)
    for name in names:
        object_name = gcs_join(location.path, name)
        with (
            client_lib.translate_errors(_object_uri(location, object_name), "delete"),
            contextlib.suppress(api.NotFound),
        ):
            bucket.blob(object_name).delete(retry=retry)


def download_files(manifest: Manifest, source, target_dir: str, *, client=None, retry=None,
                   timeout: float = 60.0) -> None:
    """Downloads every file `manifest` lists from `source` into the existing directory `target_dir`, verified."""
    from google.api_core import exceptions as api  # noqa: PLC0415

    location = _gcs(source, "source")
    client = client or client_lib.make_client()
    retry = retry or client_lib.default_retry()
    bucket = client.bucket(location.bucket)
    for name, expected in sorted(manifest.files.items()):
        object_name = gcs_join(location.path, name)
        object_uri = _object_uri(location, object_name)
        path = os.path.join(target_dir, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with client_lib.translate_errors(object_uri, "download", missing_means_bucket=False):
                bucket.blob(object_name).download_to_filename(path, checksum="crc32c", retry=retry, timeout=timeout)
        except api.NotFound:
            raise IntegrityError(
                f"{object_uri} is listed in the commit marker of {location.uri} but is missing; the committed "
                "directory was damaged after it was written. Restore it or write it again."
            ) from None
        verify_file(path, expected, source=object_uri)


def download_directory(source, target: str, *, client=None, retry=None, timeout: float = 60.0) -> Manifest:
    """Copies a committed gs:// directory to a new local `target` (published by rename); returns its manifest."""
    client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
    location = _gcs(source, "source")
    target_location = parse_uri(target, argument="target")
    if target_location.is_gcs:
        raise InvalidStorageURIError(f"`target` must be a local directory; received {target_location.uri!r}.")
    client = client or client_lib.make_client()
    retry = retry or client_lib.default_retry()
    local.check_empty_target(target_location.path, argument="target")
    manifest = read_manifest(location, client=client, retry=retry, timeout=timeout)
    with local.staged_directory(target_location.path, argument="target") as staging:
        download_files(manifest, location, staging, client=client, retry=retry, timeout=timeout)
    return manifest


def list_committed_directories(uri, *, client=None, retry=None) -> list[str]:
    """Names of the immediate sub-directories of `uri` whose commit marker is present and readable.

    Directories without a marker (being written, or abandoned by a crashed writer) and with a damaged or
    foreign marker are ignored.
    """
    location = _gcs(uri, "uri")
    client = client or client_lib.make_client()
    names, _ = list_names(location, client=client, retry=retry)
    suffix = "/" + COMMIT_MARKER
    committed = []
    for name in sorted(names):
        if name.endswith(suffix) and name.count("/") == 1:
            directory = name[: -len(suffix)]
            try:
                read_manifest(location.join(directory), client=client, retry=retry)
            except NotCommittedError as error:
                logger.warning("Ignoring %s: %s", location.join(directory).uri, error)
                continue
            committed.append(directory)
    return committed
