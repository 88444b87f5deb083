"""Digests of the bytes behind image store VHDs and emulated custom images."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import requests
from azure.core.exceptions import AzureError
from azure.storage.blob import BlobServiceClient

from scripts.localstack import EmulatorInfo

_CHUNK_BYTES = 4 * 1024 * 1024


class ContentLookupError(Exception):
    """The bytes behind a VHD URL or a custom image could not be read."""


@dataclass(frozen=True)
class ContentDigest:
    """sha256 hex digest and size in bytes of one blob or disk."""

    sha256: str
    size: int


def split_blob_url(url: str) -> tuple[str, str]:
    """Return (container, blob name) of an Azurite blob URL.

    Azurite URLs put the account name first in the path:
    http://127.0.0.1:PORT/devstoreaccount1/CONTAINER/BLOB.
    """
    path = unquote(urlsplit(url).path).lstrip("/")
    parts = path.split("/", 2)
    if len(parts) < 3 or not parts[2]:
        raise ContentLookupError(
            f"{url!r} is not a blob URL of the form /ACCOUNT/CONTAINER/BLOB"
        )
    return parts[1], parts[2]


class ImageStore:
    """Reads VHDs from the image store container with azure-storage-blob."""

    def __init__(self, connection_string: str, container: str) -> None:
        self.container = container
        self._service = BlobServiceClient.from_connection_string(connection_string)

    def digest(self, vhd_url: str) -> ContentDigest:
        """Return the digest of the blob that vhd_url names, read in full."""
        container, blob_name = split_blob_url(vhd_url)
        if container != self.container:
            raise ContentLookupError(
                f"{vhd_url} is in container {container!r}, not in the image store "
                f"container {self.container!r}"
            )

        blob = self._service.get_blob_client(container, blob_name)
        digest = hashlib.sha256()
        size = 0
        try:
            for chunk in blob.download_blob().chunks():
                digest.update(chunk)
                size += len(chunk)
        except AzureError as exc:
            raise ContentLookupError(
                f"reading the VHD {vhd_url} failed: {exc}"
            ) from exc
        return ContentDigest(digest.hexdigest(), size)

    def close(self) -> None:
        self._service.close()


class EmulatorContent:
    """Asks the emulator's control API for the bytes behind a custom image."""

    def __init__(self, emulator: EmulatorInfo) -> None:
        self._control_endpoint = emulator.control_endpoint.rstrip("/")
        self._session = requests.Session()
        # The control API is on loopback, so proxies from the environment do not
        # apply; its certificate comes from the emulator's own CA.
        self._session.trust_env = False
        self._session.verify = emulator.ca_bundle

    def custom_image_digest(self, resource_id: str) -> ContentDigest:
        return self._lookup({"resource_id": resource_id})

    def blob_digest(self, blob_url: str) -> ContentDigest:
        return self._lookup({"blob_url": blob_url})

    def close(self) -> None:
        self._session.close()

    def _lookup(self, params: dict[str, str]) -> ContentDigest:
        url = f"{self._control_endpoint}/content"
        try:
            response = self._session.get(url, params=params, timeout=30)
        except requests.RequestException as exc:
            raise ContentLookupError(f"content lookup at {url} failed: {exc}") from exc

        if response.status_code != 200:
            raise ContentLookupError(
                f"content lookup of {params} returned HTTP {response.status_code}: "
                f"{response.text[:300]}"
            )
        try:
            body = response.json()
            return ContentDigest(sha256=str(body["sha256"]), size=int(body["size"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ContentLookupError(
                f"content lookup of {params} returned an unexpected body: "
                f"{response.text[:300]}"
            ) from exc
