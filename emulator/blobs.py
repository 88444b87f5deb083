"""The blobs behind labs, disks and images, in Azurite.

Azurite's one storage account replaces the storage of every lab. Each lab
has three containers named from its prefix: ``<prefix>-uploads`` is the
lab's upload container, which generateUploadUri hands out, and the internal
``<prefix>-disks`` and ``<prefix>-images`` contain managed disks and the
managed images behind custom images.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobProperties,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    generate_blob_sas,
    generate_container_sas,
)

logger = logging.getLogger(__name__)

DEFAULT_CONNECTION_STRING = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
    "K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1"
)
# Pages are written in chunks of this size, and all-zero chunks of a new blob are skipped.
_PAGE_CHUNK = 64 * 1024
# Azurite runs on loopback, so the storage SDK's default retries (backoff
# from 15 seconds) would only delay the error when it is down.
_RETRIES = 3
_INITIAL_BACKOFF_SECONDS = 0.2
_CONNECTION_TIMEOUT_SECONDS = 5
# Azurite and the emulator share one machine clock, but a SAS starts a
# little early anyway, as Azure recommends against clock skew.
_SAS_START_SKEW = timedelta(minutes=5)


class StorageError(RuntimeError):
    """A blob operation against Azurite failed."""


class BlobStore:
    """Containers, page blobs, copies and SAS URLs in one storage account."""

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string
        self._service = BlobServiceClient.from_connection_string(
            connection_string,
            retry_total=_RETRIES,
            initial_backoff=_INITIAL_BACKOFF_SECONDS,
            increment_base=2,
            connection_timeout=_CONNECTION_TIMEOUT_SECONDS,
        )
        credential = self._service.credential
        self.account_name: str = credential.account_name
        self._account_key: str = credential.account_key
        self.endpoint = self._service.url.rstrip("/")
        self._known_containers: set[str] = set()

    def blob_url(self, container: str, blob: str) -> str:
        return self._service.get_blob_client(container, blob).url

    def parse_blob_url(self, url: str) -> tuple[str, str] | None:
        """Return (container, blob) for a URL in this account, else None."""
        parts = urlsplit(url)
        base = urlsplit(self.endpoint)
        if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
            return None
        prefix = base.path.rstrip("/") + "/"
        if not parts.path.startswith(prefix):
            return None
        container, _, blob = parts.path[len(prefix) :].partition("/")
        if not container or not blob:
            return None
        return container, unquote(blob)

    def ensure_container(self, container: str) -> None:
        if container in self._known_containers:
            return
        try:
            self._service.create_container(container)
            logger.info("created container %s", container)
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise StorageError(f"cannot create container {container}: {exc}") from exc
        self._known_containers.add(container)

    def sas_url(
        self,
        container: str,
        blob: str,
        permission: str,
        lifetime: timedelta,
        *,
        expired: bool = False,
    ) -> str:
        """Return a SAS URL for one blob, already expired when expired is True."""
        token = self.sas_token(container, blob, permission, lifetime, expired=expired)
        return f"{self.blob_url(container, blob)}?{token}"

    def sas_token(
        self,
        container: str,
        blob: str,
        permission: str,
        lifetime: timedelta,
        *,
        expired: bool = False,
    ) -> str:
        """Return the query string of a blob SAS, already expired when expired is True."""
        now = datetime.now(UTC)
        start = now - _SAS_START_SKEW - (lifetime if expired else timedelta(0))
        expiry = now - timedelta(minutes=1) if expired else now + lifetime
        return generate_blob_sas(
            self.account_name,
            container,
            blob,
            account_key=self._account_key,
            permission=BlobSasPermissions.from_string(permission),
            start=start,
            expiry=expiry,
        )

    def container_sas_token(
        self, container: str, permission: str, lifetime: timedelta
    ) -> str:
        """Return the query string of a SAS for a whole container."""
        now = datetime.now(UTC)
        return generate_container_sas(
            self.account_name,
            container,
            account_key=self._account_key,
            permission=ContainerSasPermissions.from_string(permission),
            start=now - _SAS_START_SKEW,
            expiry=now + lifetime,
        )

    def properties(self, container: str, blob: str) -> BlobProperties | None:
        try:
            return self._service.get_blob_client(container, blob).get_blob_properties()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StorageError(
                f"cannot read properties of {container}/{blob}: {exc}"
            ) from exc

    def write_page_blob(self, container: str, blob: str, data: bytes) -> None:
        """Create (or replace) a page blob with data, whose length is 512-aligned."""
        self.ensure_container(container)
        client = self._service.get_blob_client(container, blob)
        try:
            client.create_page_blob(len(data))
            self._upload_pages(container, blob, 0, data, skip_zero=True)
        except AzureError as exc:
            raise StorageError(
                f"cannot write page blob {container}/{blob}: {exc}"
            ) from exc

    def write_pages(self, container: str, blob: str, offset: int, data: bytes) -> None:
        try:
            self._upload_pages(container, blob, offset, data, skip_zero=False)
        except AzureError as exc:
            raise StorageError(
                f"cannot write pages of {container}/{blob}: {exc}"
            ) from exc

    def read(
        self, container: str, blob: str, offset: int = 0, length: int | None = None
    ) -> bytes:
        client = self._service.get_blob_client(container, blob)
        try:
            return client.download_blob(offset=offset, length=length).readall()
        except AzureError as exc:
            raise StorageError(f"cannot read {container}/{blob}: {exc}") from exc

    def copy(self, source: tuple[str, str], target: tuple[str, str]) -> None:
        """Copy a blob server-side and check that the copy finished."""
        self.ensure_container(target[0])
        source_url = self.sas_url(*source, "r", timedelta(minutes=10))
        client = self._service.get_blob_client(*target)
        try:
            result = client.start_copy_from_url(source_url)
        except AzureError as exc:
            raise StorageError(f"cannot copy {source[0]}/{source[1]}: {exc}") from exc
        # NOTE: Azurite finishes a copy within start_copy_from_url, while Azure
        # may report "pending" first, so this code never waits for a copy.
        if result.get("copy_status") != "success":
            raise StorageError(
                f"copy of {source[0]}/{source[1]} ended with status {result.get('copy_status')}"
            )

    def delete(self, container: str, blob: str) -> None:
        try:
            self._service.get_blob_client(container, blob).delete_blob()
        except ResourceNotFoundError:
            pass
        except AzureError as exc:
            raise StorageError(f"cannot delete {container}/{blob}: {exc}") from exc

    def digest(self, container: str, blob: str) -> tuple[str, int]:
        """Return the SHA-256 (hex) and size of a blob's bytes."""
        client = self._service.get_blob_client(container, blob)
        sha256 = hashlib.sha256()
        size = 0
        try:
            for chunk in client.download_blob().chunks():
                sha256.update(chunk)
                size += len(chunk)
        except AzureError as exc:
            raise StorageError(f"cannot read {container}/{blob}: {exc}") from exc
        return sha256.hexdigest(), size

    def _upload_pages(
        self, container: str, blob: str, offset: int, data: bytes, *, skip_zero: bool
    ) -> None:
        client = self._service.get_blob_client(container, blob)
        for start in range(0, len(data), _PAGE_CHUNK):
            chunk = data[start : start + _PAGE_CHUNK]
            if skip_zero and not any(chunk):
                continue
            client.upload_page(chunk, offset=offset + start, length=len(chunk))
