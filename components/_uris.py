"""The one validator for every URI a component step or the CLI takes, and the redaction of secrets.

Every path a step reads or writes (artifact paths, data paths, configs) and every URI the CLI sends to
Vertex goes through `check_uri` before use: `estimator_lib.storage.parse_uri` (schemes, bucket names,
user info, query strings, `..` in object paths) plus what a hand-typed reference gets wrong (spaces around
it, `gs:/bucket` and other broken scheme separators, `..` in local paths, control characters). Errors never
echo a secret: `redact_secrets` masks user info and query strings in any text before it is printed or
stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from estimator_lib.storage.errors import InvalidStorageURIError
from estimator_lib.storage.uri import parse_uri

# Parameters of the pipelines and fields of the step requests that hold a URI.
URI_PARAMETERS = ("train_data", "eval_data", "predict_data", "init_model_uri", "pipeline_root")

_BROKEN_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]+):(?!//)")
_KNOWN_SCHEME = re.compile(r"^(?P<scheme>gs|gcs|file|https?|s3)(?P<separator>:[/\\]*)", re.IGNORECASE)
_USER_INFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*:[/\\]*)[^/@\s'\"]*@")
_BARE_USER_INFO = re.compile(r"(?P<start>^|[\s'\"(=])[^/@\s'\":]+:[^/@\s'\"]*@")
_QUERY = re.compile(r"\?[^\s'\"]*")
_SECRET_WORDS = re.compile(
    r"(?i)\b(access_token|token|sig|signature|x-goog-signature|x-goog-credential|key|api_key|password|secret)"
    r"=[^&\s'\"]+"
)


def redact_secrets(text: Any) -> str:
    """`text` with user info (`//user:key@`), query strings and `name=secret` pairs masked."""
    text = str(text)
    text = _USER_INFO.sub(r"\g<scheme><redacted>@", text)
    text = _BARE_USER_INFO.sub(r"\g<start><redacted>@", text)
    text = _SECRET_WORDS.sub(lambda match: f"{match.group(1)}=<redacted>", text)
    return _QUERY.sub("?<redacted>", text)


def check_uri(value: Any, argument: str, *, allow_glob: bool = False) -> str:
    """Returns `value` when it is a usable local path or gs:// URI; raises a ValueError naming `argument`,
    the rule and the fix otherwise (never echoing a secret). `allow_glob` accepts `?` as a wildcard in a
    data-file pattern (a `?name=value` query is still refused)."""
    if not isinstance(value, str):
        raise TypeError(f"`{argument}` must be a str (a local path or gs://bucket/path); received "
                        f"{type(value).__name__}.")
    shown = redact_secrets(value)
    if not value:
        raise InvalidStorageURIError(f"`{argument}` is empty; pass a local path or a gs://bucket/path URI.")
    if value != value.strip():
        raise InvalidStorageURIError(
            f"`{argument}` {shown!r} starts or ends with white space; remove it (a path with a leading space names "
            "a different file)."
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise InvalidStorageURIError(f"`{argument}` contains a control character; received {shown!r}.")
    if "@" in re.split(r"[/\\]", re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[/\\]*", "", value), maxsplit=1)[0] and ":" in value:
        raise InvalidStorageURIError(
            f"`{argument}` carries user info or credentials ({shown!r}); never put credentials in a URI. Remove "
            "them and rely on Application Default Credentials (the job's service account on Vertex AI)."
        )
    broken = _broken_scheme(value)
    if broken:
        scheme = broken
        raise InvalidStorageURIError(
            f"`{argument}` {shown!r} has a malformed scheme separator after {scheme!r}; write "
            f"{scheme.lower()}://bucket/path (two slashes), or a plain local path."
        )
    checked = value
    if "?" in value and (not allow_glob or re.search(r"\?[^/]*=", value)) or "#" in value:
        raise InvalidStorageURIError(
            f"`{argument}` has a query string or fragment ({shown!r}); signed URLs and query parameters are not "
            "accepted. Pass a plain gs://bucket/path" + (" (wildcards * and ? are fine)." if allow_glob else ".")
        )
    if allow_glob:
        checked = value.replace("?", "*")
    try:
        parse_uri(checked, argument=argument)
    except InvalidStorageURIError as error:
        raise InvalidStorageURIError(redact_secrets(str(error).replace(checked, value))) from None
    path = checked.split("://", 1)[-1]
    if ".." in re.split(r"[\\/]", path):
        raise InvalidStorageURIError(
            f"`{argument}` {shown!r} contains a '..' segment, which can reach outside its directory (and under "
            "/gcs, outside its bucket). Pass the resolved path."
        )
    return value


def _broken_scheme(value: str) -> str | None:
    """The scheme of a reference whose `://` is mistyped (`gs:/b`, `gs:b`, `gs:\\b`, `gs:///b`), else None."""
    known = _KNOWN_SCHEME.match(value)
    if known:
        separator, scheme = known.group("separator"), known.group("scheme")
        good = ("://",) + ((":///",) if scheme.lower() == "file" else ())
        return None if separator in good else scheme
    other = _BROKEN_SCHEME.match(value)
    if other and not re.match(r"^[a-zA-Z]:[\\/]", value):  # C:\path is a Windows drive, not a scheme
        return other.group("scheme")
    return None


def check_uris(values: Mapping[str, Any], names: Iterable[str] = URI_PARAMETERS) -> None:
    """Checks every non-empty URI among `values` (pipeline parameters or request fields) named in `names`."""
    for name in names:
        value = values.get(name)
        if value:
            check_uri(value, name, allow_glob=name.endswith("_data"))
