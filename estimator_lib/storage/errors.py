"""Storage errors: each names the path and says how to fix it, and is also the matching built-in error."""

from __future__ import annotations


class StorageError(Exception):
    """Base class: a storage operation could not be done as asked."""


class InvalidStorageURIError(StorageError, ValueError):
    """A URI or path argument is malformed, unsafe, or of the wrong kind."""


class BucketNotFoundError(StorageError, FileNotFoundError):
    """The Cloud Storage bucket named in a URI does not exist."""


class StoragePermissionError(StorageError, PermissionError):
    """The caller's credentials may not read or write the given location (HTTP 401/403)."""


class NotADirectoryTargetError(StorageError, NotADirectoryError):
    """A directory was expected but the path is a file."""


class NonEmptyTargetError(StorageError, FileExistsError):
    """The target of an export or copy already holds data; it is never overwritten."""


class NotCommittedError(StorageError, FileNotFoundError):
    """The source has no commit marker: it is missing, still being written, or was abandoned half-way."""


class IntegrityError(StorageError, OSError):
    """A copied file's size or checksum differs from its source, so the copy does not count."""


class TransferError(StorageError, OSError):
    """Copying to or from Cloud Storage failed after the retry policy gave up."""
