"""Creates Cloud Storage clients and retry policies, and turns API failures into errors that name the path.

With `STORAGE_EMULATOR_HOST` set (tests, local runs against gcp-storage-emulator) the client uses anonymous
credentials and a placeholder project; otherwise Application Default Credentials (the service account on
Vertex AI). Credentials are never logged: only the endpoint and the project appear in log lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator

from estimator_lib import validation
from estimator_lib.storage.errors import (
    BucketNotFoundError,
    InvalidStorageURIError,
    StoragePermissionError,
    TransferError,
)

logger = logging.getLogger(__name__)

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
EMULATOR_PROJECT = "estimator-lib-emulator"


def _import_storage():
    try:
        from google.cloud import storage  # noqa: PLC0415 (optional dependency)
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            "Copying to or from gs:// needs google-cloud-storage. Install it with "
            "`pip install 'estimator-lib[pipelines]'` (or `pip install google-cloud-storage`)."
        ) from None
    return storage


def emulator_host() -> str | None:
    """The emulator endpoint from STORAGE_EMULATOR_HOST, validated, or None when unset."""
    host = os.environ.get(EMULATOR_ENV, "").strip()
    if not host:
        return None
    if "@" in host:
        raise InvalidStorageURIError(
            f"{EMULATOR_ENV} must be an endpoint such as http://127.0.0.1:9023 without user info; "
            "remove the credentials from it."
        )
    if not re.match(r"^(https?://)?[A-Za-z0-9.\-\[\]:]+/?$", host):
        raise InvalidStorageURIError(
            f"{EMULATOR_ENV} must look like http://host:port; received {host!r}."
        )
    return host


def make_client(project: str | None = None):
    """A google.cloud.storage.Client for the emulator (anonymous) or for Cloud Storage (default credentials)."""
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise ValueError(f"`project` must be a non-empty str or None; received {project!r}.")
    storage = _import_storage()
    host = emulator_host()
    if host:
        from google.auth.credentials import AnonymousCredentials  # noqa: PLC0415

        logger.debug("Cloud Storage client for the emulator at %s", host)
        return storage.Client(project=project or EMULATOR_PROJECT, credentials=AnonymousCredentials())
    try:
        client = storage.Client(project=project)
    except Exception as error:  # google.auth.exceptions.DefaultCredentialsError and friends
        raise StoragePermissionError(
            f"No Google Cloud credentials are available ({type(error).__name__}). On Vertex AI the job's service "
            "account provides them; locally run `gcloud auth application-default login` or set "
            f"GOOGLE_APPLICATION_CREDENTIALS. For a local emulator set {EMULATOR_ENV}."
        ) from None
    logger.debug("Cloud Storage client for project %s", client.project)
    return client


def make_retry(deadline: float = 120.0, initial_delay: float = 1.0, maximum_delay: float = 30.0):
    """google-cloud-storage's DEFAULT_RETRY (503, 429, 5xx, dropped connections) with this back-off and deadline."""
    for name, value in (("deadline", deadline), ("initial_delay", initial_delay), ("maximum_delay", maximum_delay)):
        validation.check_number(name, value, exclusive=True, unit="seconds")
    from google.cloud.storage.retry import DEFAULT_RETRY  # noqa: PLC0415

    return DEFAULT_RETRY.with_delay(initial=initial_delay, maximum=maximum_delay, multiplier=2.0).with_timeout(deadline)


def check_transfer_args(*, timeout, retry, client) -> None:
    """Validates the options every transfer function takes, naming the bad one."""
    validation.check_number("timeout", timeout, exclusive=True, unit="seconds per request")
    if retry is not None:
        from google.api_core.retry import Retry  # noqa: PLC0415
        from google.cloud.storage.retry import ConditionalRetryPolicy  # noqa: PLC0415

        if not isinstance(retry, (Retry, ConditionalRetryPolicy)):
            raise TypeError(
                "`retry` must be a google.api_core.retry.Retry (e.g. make_retry(...) or "
                f"google.cloud.storage.retry.DEFAULT_RETRY) or None; received {type(retry).__name__}: {retry!r}."
            )
    if client is not None:
        storage = _import_storage()
        if not isinstance(client, storage.Client):
            raise TypeError(
                f"`client` must be a google.cloud.storage.Client or None; received {type(client).__name__}."
            )


def default_retry():
    """The retry policy used when the caller passes none: google-cloud-storage's DEFAULT_RETRY."""
    from google.cloud.storage.retry import DEFAULT_RETRY  # noqa: PLC0415

    return DEFAULT_RETRY


@contextlib.contextmanager
def translate_errors(uri: str, action: str, *, missing_means_bucket: bool = True) -> Iterator[None]:
    """Re-raises google.api_core errors as storage errors that name `uri` and say what to do.

    A 404 on listing or uploading means the bucket is missing (`missing_means_bucket`); on a read of a named
    object the caller handles NotFound itself, so pass False there.
    """
    from google.api_core import exceptions as api  # noqa: PLC0415

    bucket = uri[len("gs://"):].split("/", 1)[0] if uri.startswith("gs://") else "?"
    try:
        yield
    except api.NotFound as error:
        if not missing_means_bucket:
            raise
        raise BucketNotFoundError(
            f"Cannot {action} {uri}: the bucket gs://{bucket} does not exist (HTTP 404). Create it "
            f"(`gcloud storage buckets create gs://{bucket}`) or fix the URI."
        ) from error
    except (api.Forbidden, api.Unauthorized) as error:
        raise StoragePermissionError(
            f"Cannot {action} {uri}: permission denied (HTTP {error.code}). Grant the job's service account "
            f"access to gs://{bucket} (roles/storage.objectAdmin to write, objectViewer to read)."
        ) from error
    except api.RetryError as error:
        raise TransferError(
            f"Cannot {action} {uri}: Cloud Storage kept failing until the retry deadline "
            f"(last error: {_describe(error.cause)}). Nothing was committed; run the step again."
        ) from error
    except api.GoogleAPICallError as error:
        raise TransferError(
            f"Cannot {action} {uri}: Cloud Storage answered HTTP {error.code} after retries "
            f"({type(error).__name__}). Nothing was committed; run the step again."
        ) from error
    except Exception as error:
        if _is_transport_error(error):
            raise TransferError(
                f"Cannot {action} {uri}: the connection to Cloud Storage kept failing until the retry deadline "
                f"(last error: {_describe(error)}). Nothing was committed; run the step again."
            ) from error
        raise


def _describe(error: BaseException | None) -> str:
    """Type and HTTP code of an error, without its text (which can quote request URLs and headers)."""
    if error is None:
        return "unknown"
    code = getattr(error, "code", None)
    if not isinstance(code, int):
        code = getattr(getattr(error, "response", None), "status_code", None)
    return f"{type(error).__name__}, HTTP {code}" if isinstance(code, int) else type(error).__name__


def _is_transport_error(error: BaseException) -> bool:
    from google.cloud.storage.retry import _should_retry  # noqa: PLC0415

    try:
        return bool(_should_retry(error))
    except Exception:  # pragma: no cover - defensive: predicate must not mask the original error
        return False
