"""Mirrors every saved checkpoint to Cloud Storage, and restores the newest mirrored one after a restart.

Preempted TPU jobs lose their local disk. The listener below runs after each checkpoint save and copies
that checkpoint's files to a gs:// mirror, verified, then writes a per-checkpoint commit marker
(`model.ckpt-<step>._COMMITTED`) and refreshes the mirror's `checkpoint` state file. The mirror is a flat
model_dir, so TensorFlow can also read it directly on real Cloud Storage; readers here trust only markers.
`restore_from_mirror` brings the newest committed checkpoint into a (possibly empty) local model_dir
before training starts again.
"""

from __future__ import annotations

import logging
import os
import shutil

import tensorflow as tf

from estimator_lib import validation
from estimator_lib.storage import client as client_lib
from estimator_lib.storage import gcs
from estimator_lib.storage.checkpoint_scan import checkpoint_files, checkpoint_step, find_restorable_checkpoint
from estimator_lib.storage.errors import IntegrityError, InvalidStorageURIError, NotCommittedError, StorageError
from estimator_lib.storage.integrity import COMMIT_MARKER
from estimator_lib.storage.local import TEMP_MARK, replace_file_atomically, temp_sibling
from estimator_lib.storage.uri import StorageLocation, gcs_join, parse_uri

logger = logging.getLogger(__name__)

MARKER_SUFFIX = "." + COMMIT_MARKER
_STAGING_NAME = "restore"
_ON_ERROR = ("warn", "raise")


def _mirror_location(mirror_uri) -> StorageLocation:
    location = parse_uri(mirror_uri, argument="mirror_uri")
    if not location.is_gcs:
        raise InvalidStorageURIError(
            f"`mirror_uri` must be a gs://bucket/path URI; received {location.uri!r}. "
            "A local model_dir needs no mirror."
        )
    if not location.path:
        raise InvalidStorageURIError(
            f"`mirror_uri` {location.uri!r} is a whole bucket; pass a prefix such as gs://bucket/mirrors/run1."
        )
    return location


def _local_dir(model_dir, argument: str) -> str:
    location = parse_uri(model_dir, argument=argument)
    if location.is_gcs:
        raise InvalidStorageURIError(f"`{argument}` must be a local directory; received {location.uri!r}.")
    if os.path.exists(location.path) and not os.path.isdir(location.path):
        raise NotADirectoryError(f"`{argument}` {location.path} is a file; pass a directory.")
    return location.path


def list_mirrored_checkpoints(mirror_uri, *, client=None, retry=None) -> list[tuple[int, str]]:
    """(global step, checkpoint name) of every committed checkpoint in the mirror, newest first."""
    location = _mirror_location(mirror_uri)
    names, _ = gcs.list_names(location, client=client, retry=retry, delimiter="/")
    found = []
    for name in names:
        if name.endswith(MARKER_SUFFIX):
            basename = name[: -len(MARKER_SUFFIX)]
            step = checkpoint_step(basename)
            if step is not None:
                found.append((step, basename))
    return sorted(found, reverse=True)


def _state_text(model_checkpoint_path: str, all_paths: list[str]) -> str:
    from google.protobuf import text_format  # noqa: PLC0415

    state = tf.compat.v1.train.generate_checkpoint_state_proto(
        "", model_checkpoint_path, all_model_checkpoint_paths=all_paths)
    return text_format.MessageToString(state)


class CheckpointMirrorListener(tf.compat.v1.train.CheckpointSaverListener):
    """After each checkpoint save, copies it to `mirror_uri` and commits it there.

    Args:
      model_dir: the local directory the checkpoints are saved in (the Estimator's model_dir).
      mirror_uri: gs://bucket/prefix of the mirror.
      max_to_keep: committed checkpoints kept in the mirror (older ones deleted, marker first); None keeps all.
      on_error: "warn" (default) logs a failed copy and keeps training — the next save mirrors a newer
        checkpoint and `end` retries the last one; "raise" stops training.
      client, retry, timeout: google-cloud-storage client, Retry policy and per-request timeout.
    """

    def __init__(self, model_dir, mirror_uri, *, max_to_keep: int | None = 5, on_error: str = "warn",
                 client=None, retry=None, timeout: float = 60.0):
        self._model_dir = _local_dir(model_dir, "model_dir")
        self._mirror = _mirror_location(mirror_uri)
        validation.check_int("max_to_keep", max_to_keep, allow_none=True, fix="None keeps every mirrored checkpoint.")
        if on_error not in _ON_ERROR:
            raise ValueError(f"`on_error` must be one of {_ON_ERROR}; received {on_error!r}.")
        client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
        self._max_to_keep = max_to_keep
        self._on_error = on_error
        self._client = client
        self._retry = retry
        self._timeout = float(timeout)
        self._last_mirrored_step: int | None = None
        self.mirrored_steps: list[int] = []
        self.failures = 0

    @property
    def mirror_uri(self) -> str:
        return self._mirror.uri

    def begin(self) -> None:
        if self._client is None:
            self._client = client_lib.make_client()
        if self._retry is None:
            self._retry = client_lib.default_retry()

    def after_save(self, session, global_step_value) -> None:
        del session
        self._mirror_step_guarded(int(global_step_value))

    def end(self, session, global_step_value) -> None:
        del session
        step = int(global_step_value)
        if self._last_mirrored_step != step and self._find_prefix(step) is not None:
            self._mirror_step_guarded(step)

    def _mirror_step_guarded(self, step: int) -> None:
        try:
            self.mirror_step(step)
        except (StorageError, OSError) as error:  # StorageError covers HTTP and integrity failures
            self.failures += 1
            if self._on_error == "raise":
                raise
            logger.error("Could not mirror the checkpoint of step %d to %s: %s Training continues; the next "
                         "save is mirrored again.", step, self._mirror.uri, error)

    def _find_prefix(self, step: int) -> str | None:
        state = tf.train.get_checkpoint_state(self._model_dir)
        candidates = []
        if state is not None:
            candidates = [state.model_checkpoint_path, *reversed(state.all_model_checkpoint_paths)]
        for path in candidates:
            prefix = path if os.path.isabs(path) else os.path.join(self._model_dir, path)
            if checkpoint_step(prefix) == step and checkpoint_files(prefix) is not None:
                return prefix
        return None

    def mirror_step(self, step: int) -> str:
        """Uploads and commits the checkpoint of `step`; returns its name in the mirror."""
        self.begin()
        prefix = self._find_prefix(step)
        if prefix is None:
            raise NotCommittedError(
                f"No complete checkpoint for step {step} in {self._model_dir}; nothing to mirror.")
        basename = os.path.basename(prefix)
        files = {os.path.basename(path): path for path in checkpoint_files(prefix)}
        marker = basename + MARKER_SUFFIX
        kwargs = dict(client=self._client, retry=self._retry)
        try:
            gcs.read_manifest(self._mirror, marker_name=marker, timeout=self._timeout, **kwargs)
        except NotCommittedError:
            pass
        else:
            # Already committed (a re-save of the same step after a restore): a committed checkpoint is
            # complete and is never un-committed or overwritten.
            self._record(step)
            return basename
        gcs.upload_files(files, self._mirror, marker_name=marker, timeout=self._timeout,
                         metadata={"global_step": step, "checkpoint": basename}, **kwargs)
        self._record(step)
        committed = list_mirrored_checkpoints(self._mirror, **kwargs)
        self._prune(committed)
        kept = list_mirrored_checkpoints(self._mirror, **kwargs)
        self._write_state(kept)
        logger.info("Mirrored checkpoint %s (step %d) to %s", basename, step, self._mirror.uri)
        return basename

    def _record(self, step: int) -> None:
        self._last_mirrored_step = step
        if step not in self.mirrored_steps:
            self.mirrored_steps.append(step)

    def _prune(self, committed: list[tuple[int, str]]) -> None:
        if self._max_to_keep is None:
            return
        for _, basename in committed[self._max_to_keep:]:
            marker = basename + MARKER_SUFFIX
            try:
                manifest = gcs.read_manifest(self._mirror, marker_name=marker, client=self._client, retry=self._retry)
            except NotCommittedError:
                continue
            gcs.delete_names(self._client, self._mirror, [marker], retry=self._retry)
            gcs.delete_names(self._client, self._mirror, sorted(manifest.files), retry=self._retry)

    def _write_state(self, committed: list[tuple[int, str]]) -> None:
        if not committed:
            return
        names = [basename for _, basename in reversed(committed)]
        blob = self._client.bucket(self._mirror.bucket).blob(gcs_join(self._mirror.path, "checkpoint"))
        uri = f"gs://{self._mirror.bucket}/{blob.name}"
        with client_lib.translate_errors(uri, "write the checkpoint state"):
            blob.upload_from_string(_state_text(names[-1], names).encode("utf-8"), content_type="text/plain",
                                    retry=self._retry, timeout=self._timeout)


def restore_from_mirror(mirror_uri, local_model_dir, *, client=None, retry=None, timeout: float = 60.0) -> str | None:
    """Makes the newest committed mirrored checkpoint available in `local_model_dir`; returns its local prefix.

    Nothing is downloaded when the local directory already holds a readable checkpoint at least as new.
    Files are downloaded to temporary names, verified against the commit marker, renamed into place (index
    last), and the `checkpoint` state file is then updated, so a crash during restore leaves no partial
    checkpoint behind. A mirrored checkpoint that fails verification is skipped for the previous one.
    Returns None when neither the mirror nor the directory has a usable checkpoint.
    """
    client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
    model_dir = _local_dir(local_model_dir, "local_model_dir")
    location = _mirror_location(mirror_uri)
    client = client or client_lib.make_client()
    retry = retry or client_lib.default_retry()
    local_best = find_restorable_checkpoint(model_dir) if os.path.isdir(model_dir) else None
    local_step = checkpoint_step(local_best) if local_best else None
    for step, basename in list_mirrored_checkpoints(location, client=client, retry=retry):
        if local_step is not None and local_step >= step:
            break
        try:
            prefix = _download_checkpoint(location, basename, model_dir, client=client, retry=retry, timeout=timeout)
        except (NotCommittedError, IntegrityError) as error:
            logger.warning("Skipping mirrored checkpoint %s in %s: %s", basename, location.uri, error)
            continue
        logger.info("Restored checkpoint %s (step %d) from %s", basename, step, location.uri)
        return prefix
    return local_best


def _download_checkpoint(location: StorageLocation, basename: str, model_dir: str, *, client, retry,
                         timeout: float) -> str:
    manifest = gcs.read_manifest(location, marker_name=basename + MARKER_SUFFIX, client=client, retry=retry,
                                 timeout=timeout)
    for name in manifest.files:
        if "/" in name or not name.startswith(basename + "."):
            raise NotCommittedError(
                f"The marker of {basename} in {location.uri} lists {name!r}, which is not one of its files; ignored.")
    os.makedirs(model_dir, exist_ok=True)
    _remove_stale_staging(model_dir)
    staging = temp_sibling(os.path.join(model_dir, _STAGING_NAME))
    os.mkdir(staging)
    try:
        gcs.download_files(manifest, location, staging, client=client, retry=retry, timeout=timeout)
        # Data shards and meta first, the index last: the index is what makes a checkpoint look present.
        for name in sorted(manifest.files, key=lambda n: n.endswith(".index")):
            replace_file_atomically(os.path.join(staging, name), os.path.join(model_dir, name))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    prefix = os.path.join(model_dir, basename)
    state = tf.train.get_checkpoint_state(model_dir)
    previous = [p for p in (state.all_model_checkpoint_paths if state else []) if p != prefix]
    tf.compat.v1.train.update_checkpoint_state(model_dir, prefix, all_model_checkpoint_paths=[*previous, prefix])
    return prefix


def _remove_stale_staging(model_dir: str) -> None:
    """Deletes staging directories left by a restore that was killed (they are never read)."""
    prefix = f".{_STAGING_NAME}{TEMP_MARK}"
    for name in os.listdir(model_dir):
        path = os.path.join(model_dir, name)
        if name.startswith(prefix) and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
