"""Storage for checkpoints and exports: gs:// and local paths, integrity checks, commit markers, mirroring.

Where files move between this machine and Cloud Storage, this package does it with google-cloud-storage
(retry policy, CRC32C/MD5 checks, a `_COMMITTED` marker written last); see docs/storage.md.
"""

from estimator_lib.storage.checkpoint_scan import (
    checkpoint_files,
    checkpoint_problem,
    checkpoint_step,
    find_restorable_checkpoint,
)
from estimator_lib.storage.client import make_client, make_retry
from estimator_lib.storage.errors import (
    BucketNotFoundError,
    IntegrityError,
    InvalidStorageURIError,
    NonEmptyTargetError,
    NotADirectoryTargetError,
    NotCommittedError,
    StorageError,
    StoragePermissionError,
    TransferError,
)
from estimator_lib.storage.gcs import (
    download_directory,
    list_committed_directories,
    read_manifest,
    upload_directory,
)
from estimator_lib.storage.integrity import COMMIT_MARKER, Manifest
from estimator_lib.storage.local import copy_local_directory, staged_directory
from estimator_lib.storage.mirror import CheckpointMirrorListener, list_mirrored_checkpoints, restore_from_mirror
from estimator_lib.storage.transfer import copy_directory
from estimator_lib.storage.uri import StorageLocation, is_gcs_uri, parse_uri, resolve_under_root

__all__ = [
    "COMMIT_MARKER",
    "BucketNotFoundError",
    "CheckpointMirrorListener",
    "IntegrityError",
    "InvalidStorageURIError",
    "Manifest",
    "NonEmptyTargetError",
    "NotADirectoryTargetError",
    "NotCommittedError",
    "StorageError",
    "StorageLocation",
    "StoragePermissionError",
    "TransferError",
    "checkpoint_files",
    "checkpoint_problem",
    "checkpoint_step",
    "copy_directory",
    "copy_local_directory",
    "download_directory",
    "find_restorable_checkpoint",
    "is_gcs_uri",
    "list_committed_directories",
    "list_mirrored_checkpoints",
    "make_client",
    "make_retry",
    "parse_uri",
    "read_manifest",
    "resolve_under_root",
    "restore_from_mirror",
    "staged_directory",
    "upload_directory",
]
