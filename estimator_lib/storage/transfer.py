"""One entry point to copy a directory between any two of: local path, gs:// URI.

Components stage artifacts with it (a SavedModel to a bucket, a checkpoint dir from one); the target
becomes visible only when complete (rename locally, commit marker on Cloud Storage).
"""

from __future__ import annotations

from estimator_lib.storage import client as client_lib
from estimator_lib.storage import gcs, local
from estimator_lib.storage.errors import NonEmptyTargetError
from estimator_lib.storage.uri import PathLike, parse_uri


def copy_directory(source: PathLike, target: PathLike, *, client=None, retry=None, timeout: float = 60.0) -> str:
    """Copies directory `source` to a new `target`; returns the target's canonical URI.

    gs:// sources must be committed; gs:// targets get a commit marker; local targets appear by rename.
    The target must not hold data already (NonEmptyTargetError).
    """
    client_lib.check_transfer_args(timeout=timeout, retry=retry, client=client)
    src = parse_uri(source, argument="source")
    dst = parse_uri(target, argument="target")
    if src.uri == dst.uri:
        raise NonEmptyTargetError(f"`source` and `target` are the same location ({src.uri}); pass a new target.")
    if not src.is_gcs and not dst.is_gcs:
        local.copy_local_directory(src.path, dst.path)
    elif not src.is_gcs:
        gcs.upload_directory(src.path, dst, client=client, retry=retry, timeout=timeout)
    elif not dst.is_gcs:
        gcs.download_directory(src, dst.path, client=client, retry=retry, timeout=timeout)
    else:
        # Bucket to bucket: through a local temporary copy, so both sides are verified the same way.
        import tempfile  # noqa: PLC0415

        with tempfile.TemporaryDirectory(prefix="estimator-lib-copy-") as scratch:
            staged = f"{scratch}/dir"
            gcs.download_directory(src, staged, client=client, retry=retry, timeout=timeout)
            gcs.upload_directory(staged, dst, client=client, retry=retry, timeout=timeout)
    return dst.uri
