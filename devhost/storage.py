"""Queue clients for the dev host's listeners."""

from __future__ import annotations

import logging
import re

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import ExponentialRetry, QueueClient

from devhost.errors import StorageConnectionError

logger = logging.getLogger(__name__)

# Azurite 3.37.0 accepts x-ms-version up to 2026-06-06, while azure-storage-queue
# 12.18.1 sends 2026-10-06 by default and Azurite rejects it unless started with
# --skipApiVersionCheck. Azure Storage accepts this older version too.
DEFAULT_QUEUE_API_VERSION = "2026-06-06"

# The SDK default waits 15 s before its first retry. The poll loops back off on
# their own, so the clients retry briefly and then report the error.
_RETRY_POLICY = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=2)

_SAS_SIGNATURE = re.compile(r"(sig=)[^&\s'\"]+", re.IGNORECASE)


def redact(text: object) -> str:
    """Return the text of an error or URL with any SAS signature replaced, so that it can be logged."""
    return _SAS_SIGNATURE.sub(r"\1REDACTED", str(text))


def create_queue_client(
    connection_string: str, queue_name: str, api_version: str
) -> QueueClient:
    """Return a client that sends and receives message text unchanged (no encode or decode policy)."""
    try:
        return QueueClient.from_connection_string(
            connection_string,
            queue_name,
            api_version=api_version,
            retry_policy=_RETRY_POLICY,
            connection_timeout=10,
            read_timeout=60,
        )
    except ValueError as exc:
        raise StorageConnectionError(
            f"the connection string for queue {queue_name!r} is invalid: {exc}"
        ) from exc


def ensure_queue(client: QueueClient) -> None:
    """Create the queue unless it exists; raise StorageConnectionError when the service is unreachable."""
    try:
        client.create_queue()
        logger.info("created queue %s", client.queue_name)
    except ResourceExistsError:
        pass
    except AzureError as exc:
        raise StorageConnectionError(
            f"cannot create queue {client.queue_name!r} at {client.scheme}://{client.primary_hostname}: "
            f"{redact(exc)}; "
            "check that the storage emulator is running and the connection string is right"
        ) from exc
