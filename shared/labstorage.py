"""The upload container of a lab's storage account, read and cleaned with the app's identity.

DevTest Labs creates a custom image from a VHD only if the VHD sits in the
lab's own storage account, so the factory copies each version into the
lab's ``uploads`` container through a SAS that ``generateUploadUri`` hands
out. That SAS lets the factory write, not delete. Deleting the uploaded VHD
once the custom image exists, and finding VHDs that a crash left behind,
needs the app's own Entra identity and a data role on the lab's storage
account (docs/deploy.md names it). The factory marks every blob it uploads
with metadata, so that only its own uploads are ever deleted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.errors import AzureOperationError
from shared.pipeline.blobcopy import blob_url_without_query
from shared.storage import pooled_transport

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient, ContainerClient

logger = logging.getLogger(__name__)

# Metadata on each uploaded VHD: who wrote it and for which run.
UPLOAD_OWNER_KEY = "createdby"
UPLOAD_OWNER_VALUE = "imagefactory"
UPLOAD_RUN_KEY = "factoryrun"
# The data role to grant when Azure Storage rejects the app's identity with 403.
UPLOAD_ROLE_HINT = (
    "grant the app's identity the role 'Image Factory upload cleaner (<environment>-<token>)' "
    "that azd creates, or Storage Blob Data Contributor, on the lab's storage account; "
    "see docs/deploy.md"
)
_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def upload_metadata(run_id: str) -> dict[str, str]:
    """Metadata that marks an uploaded VHD as the factory's, written by ``run_id``."""
    return {UPLOAD_OWNER_KEY: UPLOAD_OWNER_VALUE, UPLOAD_RUN_KEY: run_id}


@dataclass(frozen=True)
class UploadBlob:
    """A VHD the factory uploaded into a lab's upload container."""

    url: str
    name: str
    run_id: str
    last_modified: datetime | None


def container_url_of(upload_url: str) -> str:
    """Return the container URL of ``upload_url``, a blob URL with or without a SAS."""
    parts = urlsplit(upload_url)
    path = parts.path.rstrip("/")
    container_path = path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, container_path, "", ""))


@dataclass(frozen=True)
class UploadProperties:
    """Owner metadata and ETag of an upload, read before deleting it."""

    factory_owned: bool
    run_id: str
    etag: str


class LabUploads:
    """Delete and list blobs in labs' upload containers with a token credential."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self._transport: Any = None

    def properties(self, blob_url: str) -> UploadProperties | None:
        """Return the owner metadata and ETag of the blob at ``blob_url``, or None if it is gone."""
        client = self._blob(blob_url)
        with _storage_call(f"reading {client.url}"):
            try:
                blob = client.get_blob_properties()
            except ResourceNotFoundError:
                return None
        metadata = _lowered(blob.metadata)
        return UploadProperties(
            factory_owned=metadata.get(UPLOAD_OWNER_KEY) == UPLOAD_OWNER_VALUE,
            run_id=metadata.get(UPLOAD_RUN_KEY, ""),
            etag=str(blob.etag or ""),
        )

    def delete(self, blob_url: str, etag: str | None = None) -> bool:
        """Delete the blob at ``blob_url`` (its query is ignored); False if it was gone.

        With ``etag``, the blob is deleted only if it has not changed since,
        and a changed blob raises AzureOperationError with status 412.
        """
        from azure.core import MatchConditions

        client = self._blob(blob_url)
        with _storage_call(f"deleting {client.url}"):
            try:
                if etag:
                    client.delete_blob(
                        etag=etag, match_condition=MatchConditions.IfNotModified
                    )
                else:
                    client.delete_blob()
            except ResourceNotFoundError:
                return False
        return True

    def list_factory_uploads(self, container_url: str) -> list[UploadBlob]:
        """Return the blobs in the container that carry the factory's metadata."""
        container = self._container(container_url)
        with _storage_call(f"listing {container.url}"):
            try:
                return list(self._factory_blobs(container))
            except ResourceNotFoundError:
                return []

    def _factory_blobs(self, container: ContainerClient) -> Iterator[UploadBlob]:
        for blob in container.list_blobs(include=["metadata"]):
            metadata = _lowered(blob.metadata)
            if metadata.get(UPLOAD_OWNER_KEY) != UPLOAD_OWNER_VALUE:
                continue
            yield UploadBlob(
                # The client percent-encodes the name, which may hold '%', '#' or spaces.
                url=container.get_blob_client(blob.name).url,
                name=blob.name,
                run_id=metadata.get(UPLOAD_RUN_KEY, ""),
                last_modified=blob.last_modified,
            )

    def _blob(self, blob_url: str) -> BlobClient:
        from azure.storage.blob import BlobClient

        return BlobClient.from_blob_url(
            blob_url_without_query(blob_url),
            credential=self._credential,
            transport=self._shared_transport(),
        )

    def _container(self, container_url: str) -> ContainerClient:
        from azure.storage.blob import ContainerClient

        return ContainerClient.from_container_url(
            blob_url_without_query(container_url),
            credential=self._credential,
            transport=self._shared_transport(),
        )

    def _shared_transport(self) -> Any:
        if self._transport is None:
            self._transport = pooled_transport()
        return self._transport


def _lowered(metadata: dict[str, str] | None) -> dict[str, str]:
    return {key.lower(): value for key, value in (metadata or {}).items()}


@contextlib.contextmanager
def _storage_call(action: str) -> Iterator[None]:
    """Turn the storage SDK's errors of ``action`` into AzureOperationError."""
    try:
        yield
    except HttpResponseError as exc:
        raise _storage_error(action, exc) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise AzureOperationError(
            f"{action} failed: connection error: {exc}", retryable=True
        ) from exc


def _storage_error(action: str, exc: HttpResponseError) -> AzureOperationError:
    status = exc.status_code
    code = getattr(exc, "error_code", None)
    message = f"{action} failed: {code or status}: {exc.reason}"
    if status == 403:
        message = f"{message.rstrip('.')}. To let the factory clean up its uploads, {UPLOAD_ROLE_HINT}"
    return AzureOperationError(
        message, code=code, status=status, retryable=status in _RETRYABLE_STATUS
    )
