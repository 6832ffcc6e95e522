"""Local directories become visible only when whole: build in a temporary sibling, then `os.replace`.

A crash at any moment leaves either no target or the complete target, plus at most a hidden temporary
sibling (`.<name>.tmp-<id>`) that readers never look at.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import uuid
from collections.abc import Iterator

from estimator_lib.storage.errors import NonEmptyTargetError, NotADirectoryTargetError

TEMP_MARK = ".tmp-"


def check_directory_source(path: str, *, argument: str = "source") -> None:
    """Raises a clear error unless `path` is an existing directory."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"`{argument}` {path} does not exist; pass an existing directory.")
    if not os.path.isdir(path):
        raise NotADirectoryTargetError(f"`{argument}` {path} is a file, not a directory; pass the directory.")


def check_empty_target(path: str, *, argument: str = "target") -> None:
    """Raises unless `path` is absent or an empty directory (existing results are never overwritten)."""
    if not os.path.lexists(path):
        return
    if not os.path.isdir(path):
        raise NotADirectoryTargetError(
            f"`{argument}` {path} is a file; an export or copy needs a directory path. Remove the file or pick "
            "another path."
        )
    if os.listdir(path):
        raise NonEmptyTargetError(
            f"`{argument}` {path} is not empty; results are never written over existing files. Pass a new "
            "directory or remove this one."
        )


def temp_sibling(path: str) -> str:
    """A unique hidden name next to `path` (same filesystem, so the final rename is atomic)."""
    parent, name = os.path.split(os.path.normpath(path))
    return os.path.join(parent, f".{name}{TEMP_MARK}{uuid.uuid4().hex[:12]}")


def _fsync_tree(root: str) -> None:
    for directory, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(directory, name), "rb") as handle:
                os.fsync(handle.fileno())
        _fsync_dir(directory)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def staged_directory(target: str, *, argument: str = "target") -> Iterator[str]:
    """Yields a temporary directory; on normal exit it atomically becomes `target`, on error it is removed."""
    check_empty_target(target, argument=argument)
    parent = os.path.dirname(os.path.normpath(target)) or "."
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise NotADirectoryTargetError(f"The parent of `{argument}` {target} is a file ({parent}).")
    os.makedirs(parent, exist_ok=True)
    staging = temp_sibling(target)
    os.mkdir(staging)
    try:
        yield staging
        _fsync_tree(staging)
        try:
            if os.path.isdir(target) and not os.listdir(target):
                os.rmdir(target)
            os.rename(staging, target)
        except OSError as error:
            if error.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise NonEmptyTargetError(
                    f"`{argument}` {target} was filled by someone else while this copy ran; nothing was "
                    "overwritten. Pass a new directory."
                ) from None
            raise
        _fsync_dir(parent)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)


def replace_file_atomically(staged: str, final: str) -> None:
    """Moves a fully written file into place (fsync first, so a crash never exposes a short file)."""
    with open(staged, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(staged, final)


def copy_local_directory(source: str, target: str) -> str:
    """Copies a local directory tree to a new local `target`, published by rename; returns `target`."""
    check_directory_source(source, argument="source")
    with staged_directory(target) as staging:
        shutil.copytree(source, staging, dirs_exist_ok=True, symlinks=False)
    return target
