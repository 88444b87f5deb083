"""Clients for the app's storage account: tables, queues and the image store.

Locally the account is Azurite, reached with a connection string. In Azure the
app has no account keys: it uses its managed identity, and SAS tokens for the
image store are signed with a user delegation key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared.settings import Settings, get_settings

# The Functions host runs up to batchSize + newBatchThreshold messages of each
# queue function at once (24 with this app's host.json), and they all share
# one set of clients. requests keeps 10 connections per host by default and
# opens and closes a new one for every request beyond that.
CONNECTION_POOL_SIZE = 64

if TYPE_CHECKING:
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient, QueueServiceClient


def azure_credential(client_id: str | None = None) -> Any:
    """Return the credential the app uses for Azure: its managed identity in Azure."""
    from azure.identity import DefaultAzureCredential

    if client_id:
        return DefaultAzureCredential(managed_identity_client_id=client_id)
    return DefaultAzureCredential()


def pooled_transport() -> Any:
    """Return an HTTP transport that keeps up to CONNECTION_POOL_SIZE connections per host."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    session = requests.Session()
    # The clients' retry policy retries; requests itself must not, as in the
    # session that RequestsTransport makes by default.
    adapter = requests.adapters.HTTPAdapter(
        pool_maxsize=CONNECTION_POOL_SIZE,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return RequestsTransport(session=session, session_owner=False)


@dataclass
class StorageClients:
    """Service clients of the app's storage account, built once per process."""

    tables: TableServiceClient
    queues: QueueServiceClient
    blobs: BlobServiceClient
    image_store_container: str

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageClients:
        from azure.data.tables import TableServiceClient
        from azure.storage.blob import BlobServiceClient
        from azure.storage.queue import QueueServiceClient

        storage = settings.storage
        if storage.connection_string:
            cs = storage.connection_string
            return cls(
                tables=TableServiceClient.from_connection_string(
                    cs, transport=pooled_transport()
                ),
                queues=QueueServiceClient.from_connection_string(
                    cs, transport=pooled_transport()
                ),
                blobs=BlobServiceClient.from_connection_string(
                    cs, transport=pooled_transport()
                ),
                image_store_container=settings.image_store_container,
            )
        credential = azure_credential(storage.client_id or settings.client_id)
        assert storage.table_url and storage.queue_url and storage.blob_url
        return cls(
            tables=TableServiceClient(
                storage.table_url, credential=credential, transport=pooled_transport()
            ),
            queues=QueueServiceClient(
                storage.queue_url, credential=credential, transport=pooled_transport()
            ),
            blobs=BlobServiceClient(
                storage.blob_url, credential=credential, transport=pooled_transport()
            ),
            image_store_container=settings.image_store_container,
        )

    def queue_client(self, name: str) -> QueueClient:
        """Return a client of one queue that reads and writes base64 messages.

        The Functions host expects base64 by default, and the SDK sends raw text
        unless told otherwise. The policies must be given here:
        ``QueueServiceClient.get_queue_client`` does not pass on policies that
        were given to the service client.
        """
        from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy

        return self.queues.get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )

    def read_sas_url(self, container: str, blob: str, lifetime: timedelta) -> str:
        """Return a read-only SAS URL for one blob, valid for ``lifetime``.

        Signed with the account key when the app has one (Azurite), otherwise
        with a user delegation key from the managed identity.
        """
        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        now = datetime.now(UTC)
        start = now - timedelta(minutes=5)
        expiry = now + lifetime
        account_name = self.blobs.account_name
        assert account_name
        account_key = getattr(self.blobs.credential, "account_key", None)
        sas_args: dict[str, Any] = {
            "account_name": account_name,
            "container_name": container,
            "blob_name": blob,
            "permission": BlobSasPermissions(read=True),
            "expiry": expiry,
            "start": start,
        }
        if account_key:
            sas_args["account_key"] = account_key
        else:
            sas_args["user_delegation_key"] = self.blobs.get_user_delegation_key(
                start, expiry
            )
        token = generate_blob_sas(**sas_args)
        blob_url = self.blobs.get_blob_client(container, blob).url
        return f"{blob_url}?{token}"


@functools.cache
def get_storage() -> StorageClients:
    """Return the process's storage clients, built on first use."""
    return StorageClients.from_settings(get_settings())
