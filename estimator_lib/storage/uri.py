"""Parses and validates storage references: `gs://bucket/path` or a local path, never a URL with credentials.

Artifact and model references come from pipeline parameters and user input, so they are checked before any
file is touched: no credentials inside a URI (they would end up in logs and metadata), no `..` segments that
climb out of an artifact root, only the schemes this project moves data through.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import re

from estimator_lib.storage.errors import InvalidStorageURIError

PathLike = str | os.PathLike

GCS_SCHEME = "gs"
# Bucket names: 3-63 characters (up to 222 with dots), lowercase letters, digits, '-', '_' and '.',
# starting and ending with a letter or digit.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


@dataclasses.dataclass(frozen=True)
class StorageLocation:
    """A validated location: `bucket` is set for Cloud Storage, `path` is the object prefix or local path."""

    scheme: str  # "gs" or "file"
    bucket: str | None
    path: str

    @property
    def is_gcs(self) -> bool:
        return self.scheme == GCS_SCHEME

    @property
    def uri(self) -> str:
        """The canonical string form: `gs://bucket/path` or an absolute local path."""
        if self.is_gcs:
            return f"gs://{self.bucket}/{self.path}" if self.path else f"gs://{self.bucket}"
        return self.path

    def join(self, *parts: str) -> StorageLocation:
        """A child location; each part is checked so that it stays below this one."""
        relative = safe_relative_path("/".join(parts))
        if self.is_gcs:
            path = f"{self.path}/{relative}" if self.path else relative
            return StorageLocation(self.scheme, self.bucket, path)
        return StorageLocation(self.scheme, None, os.path.join(self.path, *relative.split("/")))

    def __str__(self) -> str:
        return self.uri


def _text(value: object, argument: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidStorageURIError(f"`{argument}` is not valid UTF-8: received {value!r}.") from None
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(
            f"`{argument}` must be a str or os.PathLike (a local path or gs://bucket/path); "
            f"received {type(value).__name__}: {value!r}."
        )
    if not value.strip():
        raise InvalidStorageURIError(f"`{argument}` is empty; pass a local path or a gs://bucket/path URI.")
    if "\x00" in value:
        raise InvalidStorageURIError(f"`{argument}` contains a NUL character; received {value!r}.")
    return value


def _redact(uri: str) -> str:
    """The URI with user info and any query string removed, so errors never echo a secret."""
    uri = re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", r"\1<redacted>@", uri)
    return re.sub(r"[?#].*$", "?<redacted>", uri, flags=re.DOTALL)


def safe_relative_path(relative: str) -> str:
    """Normalises a '/'-separated relative path; rejects absolute paths and any `..` segment."""
    if not isinstance(relative, str):
        raise TypeError(f"A relative path must be a str; received {type(relative).__name__}: {relative!r}.")
    if relative.startswith(("/", "\\")) or re.match(r"^[a-zA-Z]:[\\/]", relative):
        raise InvalidStorageURIError(
            f"Expected a path relative to an artifact root, received the absolute path {relative!r}. "
            "Pass the part below the root."
        )
    segments = [s for s in relative.replace("\\", "/").split("/") if s not in ("", ".")]
    if any(s == ".." for s in segments):
        raise InvalidStorageURIError(
            f"The path {relative!r} contains '..', which could reach outside the artifact root; "
            "pass a path that stays below it."
        )
    return "/".join(segments)


def parse_uri(value: PathLike, *, argument: str = "uri") -> StorageLocation:
    """Validates `value` and returns its StorageLocation.

    Accepted: `gs://bucket[/path]`, `file:///abs/path`, and plain local paths (made absolute). Rejected, with a
    message naming `argument`: other schemes (http, s3, ...), user info or credentials in the URI, `..` segments
    in a gs:// path, and invalid bucket names.
    """
    if isinstance(value, StorageLocation):
        return value
    text = _text(value, argument)
    match = _SCHEME_RE.match(text)
    if not match:
        if "@" in text.split("/", 1)[0] and ":" in text.split("@", 1)[0]:
            raise InvalidStorageURIError(
                f"`{argument}` looks like it carries credentials ({_redact('x://' + text)[4:]!r}); "
                "never put credentials in a path. Use Application Default Credentials instead."
            )
        return StorageLocation("file", None, os.path.abspath(os.path.expanduser(text)))
    scheme = match.group(1).lower()
    rest = text[match.end():]
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        raise InvalidStorageURIError(
            f"`{argument}` contains user info or credentials ({_redact(text)!r}). Credentials must never be part "
            "of an artifact or model URI: remove them and rely on Application Default Credentials "
            "(a service account on Vertex AI, `gcloud auth application-default login` locally)."
        )
    if "?" in rest or "#" in rest:
        raise InvalidStorageURIError(
            f"`{argument}` has a query or fragment ({_redact(text)!r}); signed URLs and query parameters are not "
            "accepted. Pass a plain gs://bucket/path."
        )
    if scheme == "file":
        if authority not in ("", "localhost"):
            raise InvalidStorageURIError(
                f"`{argument}` is a file:// URI with host {authority!r}; only local file:///absolute/paths work."
            )
        path = rest[len(authority):]
        return StorageLocation("file", None, os.path.abspath(path or "/"))
    if scheme != GCS_SCHEME:
        raise InvalidStorageURIError(
            f"`{argument}` uses the unsupported scheme {scheme!r} in {_redact(text)!r}; use gs://bucket/path for "
            "Cloud Storage or a local path."
        )
    bucket = authority
    if not _BUCKET_RE.match(bucket) or ".." in bucket:
        raise InvalidStorageURIError(
            f"`{argument}` has an invalid bucket name {bucket!r} in {text!r}: bucket names are 3-63 lowercase "
            "letters, digits, '-', '_' or '.', starting and ending with a letter or digit."
        )
    object_path = rest[len(bucket):].lstrip("/")
    try:
        object_path = safe_relative_path(object_path)
    except InvalidStorageURIError:
        raise InvalidStorageURIError(
            f"`{argument}` {text!r} contains a '..' segment; object paths must not climb out of their prefix. "
            "Pass the resolved path."
        ) from None
    return StorageLocation(GCS_SCHEME, bucket, object_path)


def is_gcs_uri(value: PathLike) -> bool:
    """True for strings that start with gs:// (without validating them)."""
    try:
        text = os.fspath(value)
    except TypeError:
        return False
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text.lower().startswith("gs://")


def resolve_under_root(root: PathLike, relative: str, *, argument: str = "path") -> StorageLocation:
    """`root` joined with `relative`, refusing anything (`..`, absolute paths, symlinks) that leaves `root`."""
    base = parse_uri(root, argument="root")
    try:
        location = base.join(relative)
    except InvalidStorageURIError as error:
        raise InvalidStorageURIError(f"`{argument}`: {error} (artifact root: {base.uri!r})") from None
    if not location.is_gcs:
        real_root = os.path.realpath(base.path)
        real = os.path.realpath(location.path)
        if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
            raise InvalidStorageURIError(
                f"`{argument}` {relative!r} resolves to {real!r}, outside the artifact root {real_root!r} "
                "(through a symbolic link). Pass a path inside the root."
            )
    return location


def local_parent(path: str) -> str:
    """The parent directory of a local path (posix or native)."""
    return os.path.dirname(os.path.normpath(path)) or "."


def gcs_join(*parts: str) -> str:
    """Joins object-name parts with '/', skipping empty ones."""
    return posixpath.join(*[p for p in parts if p]) if any(parts) else ""
