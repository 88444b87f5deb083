"""Server-side blob copies and how the pipeline reads their state.

Azure may finish a copy at once or report it ``pending`` and finish later;
it can also end ``failed`` or ``aborted``. Callers start a copy, then check
it on later deliveries.
"""

from __future__ import annotations

import functools
import logging
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.errors import AzureOperationError
from shared.storage import pooled_transport

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

logger = logging.getLogger(__name__)

MAX_COPY_ATTEMPTS = 3


class CopyState(StrEnum):
    MISSING = "missing"
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"


def blob_client(url: str) -> BlobClient:
    """Return a client of the blob at ``url``, which may carry a SAS.

    The blob SDK is imported here rather than at module level, because it
    adds about 50 ms to the function app's import, which every cold start pays.
    The clients share one connection pool, so that each request does not
    open a new TLS connection.
    """
    from azure.storage.blob import BlobClient

    return BlobClient.from_blob_url(url, transport=_shared_transport())


@functools.cache
def _shared_transport() -> Any:
    return pooled_transport()


def start_copy(
    destination: BlobClient, source_url: str, metadata: dict[str, str] | None = None
) -> CopyState:
    """Start copying ``source_url`` (a SAS URL) into ``destination``, with ``metadata``."""
    try:
        result = destination.start_copy_from_url(source_url, metadata=metadata)
    except HttpResponseError as exc:
        raise AzureOperationError(
            f"starting the copy into {destination.url} failed: {exc.reason}",
            code=getattr(exc, "error_code", None),
            status=exc.status_code,
            retryable=exc.status_code in (408, 409, 429, 500, 502, 503, 504),
        ) from exc
    return _state(str(result.get("copy_status") or "pending"))


def copy_state(destination: BlobClient) -> tuple[CopyState, str]:
    """Return the state of the last copy into ``destination`` and its status text."""
    try:
        properties = destination.get_blob_properties()
    except ResourceNotFoundError:
        return CopyState.MISSING, "the destination blob does not exist"
    except HttpResponseError as exc:
        raise AzureOperationError(
            f"reading copy state of {destination.url} failed: {exc.reason}",
            status=exc.status_code,
            retryable=True,
        ) from exc
    copy = properties.copy
    if copy is None or copy.status is None:
        # Written directly rather than copied: it is complete.
        return CopyState.SUCCESS, ""
    return _state(copy.status), copy.status_description or ""


def _state(status: str) -> CopyState:
    if status == "success":
        return CopyState.SUCCESS
    if status == "pending":
        return CopyState.PENDING
    return CopyState.FAILED


def blob_url_without_query(url: str) -> str:
    return url.split("?", 1)[0]
