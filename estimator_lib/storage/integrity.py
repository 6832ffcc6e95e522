"""File checksums and commit manifests: a copy counts only when every file's size and checksums match.

Checksums use the encodings Cloud Storage reports (base64 of the big-endian CRC32C and of the MD5 digest), so a
local file, an uploaded object's metadata and a manifest entry can be compared directly.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import json
import os
from collections.abc import Iterable, Mapping

from estimator_lib.storage.errors import IntegrityError, NotCommittedError
from estimator_lib.storage.uri import safe_relative_path

COMMIT_MARKER = "_COMMITTED"
MANIFEST_FORMAT = "estimator_lib.commit/1"
_CHUNK = 4 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class FileDigest:
    """Size and checksums of one file, keyed in a manifest by its path relative to the committed root."""

    size: int
    crc32c: str
    md5: str

    def mismatch(self, other: FileDigest) -> str | None:
        """A short description of the first difference, or None when equal."""
        for field in ("size", "crc32c", "md5"):
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine is not None and theirs is not None and mine != theirs:
                return f"{field} {theirs} != expected {mine}"
        return None


def _crc32c():
    import google_crc32c  # noqa: PLC0415 (installed with google-cloud-storage)

    return google_crc32c.Checksum()


def digest_file(path: str) -> FileDigest:
    """Reads `path` once and returns its size, CRC32C and MD5."""
    crc, md5, size = _crc32c(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                break
            crc.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return FileDigest(size, _b64(crc.digest()), _b64(md5.digest()))


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def verify_file(path: str, expected: FileDigest, *, source: str) -> None:
    """Raises IntegrityError naming `path` and `source` when the file differs from `expected`."""
    actual = digest_file(path)
    problem = expected.mismatch(actual)
    if problem:
        raise IntegrityError(
            f"The copy of {source} at {path} is damaged ({problem}); it was discarded. Copy it again."
        )


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What a commit marker records: every file of the committed set, plus free-form metadata."""

    files: Mapping[str, FileDigest]
    metadata: Mapping[str, object] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        body = {
            "format": MANIFEST_FORMAT,
            "committed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "metadata": dict(self.metadata),
            "files": {name: dataclasses.asdict(d) for name, d in sorted(self.files.items())},
        }
        return json.dumps(body, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str) -> Manifest:
        """Parses a marker; a marker that is not ours or is malformed counts as not committed."""
        try:
            body = json.loads(text)
            if body.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"unknown format {body.get('format')!r}")
            files = {}
            for name, entry in body["files"].items():
                digest = FileDigest(int(entry["size"]), str(entry["crc32c"]), str(entry["md5"]))
                files[safe_relative_path(name)] = digest
            metadata = body.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise ValueError("metadata is not an object")
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise NotCommittedError(
                f"The commit marker {source} is unreadable ({error}); the directory is treated as uncommitted."
            ) from None
        return cls(files, metadata)


def manifest_for_files(files: Mapping[str, str], metadata: Mapping[str, object] | None = None) -> Manifest:
    """Digests every local file; `files` maps the relative name to record to the local path."""
    return Manifest({name: digest_file(path) for name, path in files.items()}, dict(metadata or {}))


def list_local_files(root: str, *, exclude: Iterable[str] = (COMMIT_MARKER,)) -> dict[str, str]:
    """Relative '/'-separated name -> path for every regular file under `root` (symlinks leaving it refused)."""
    excluded = set(exclude)
    real_root = os.path.realpath(root)
    found: dict[str, str] = {}
    for directory, subdirs, names in os.walk(root):
        subdirs.sort()
        for name in sorted(names):
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if relative in excluded:
                continue
            real = os.path.realpath(path)
            if not real.startswith(real_root + os.sep):
                raise IntegrityError(
                    f"{path} is a symbolic link to {real}, outside {root}; copying it could leak files. "
                    "Replace the link with the file itself."
                )
            if os.path.isfile(path):
                found[relative] = path
    return found
