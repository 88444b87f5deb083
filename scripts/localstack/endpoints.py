"""Connection details of the local services and an API client for the dev host."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from scripts.localstack.processes import LOOPBACK

AZURITE_ACCOUNT_NAME = "devstoreaccount1"
# The fixed development key that every Azurite installation accepts; it is
# published in Azurite's documentation and guards nothing.
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6"
    "tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
FUNCTION_KEY_HEADER = "x-functions-key"
API_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class AzuritePorts:
    """TCP ports of the three Azurite services on the loopback address."""

    blob: int
    queue: int
    table: int

    def connection_string(self) -> str:
        """Build a connection string with explicit endpoints and no trailing ';'.

        azure-data-tables 12.7.0 rejects a connection string that ends with
        ';', and the shortcut UseDevelopmentStorage=true only reaches the
        default ports, so every endpoint is spelled out.
        """
        base = f"http://{LOOPBACK}"
        parts = [
            "DefaultEndpointsProtocol=http",
            f"AccountName={AZURITE_ACCOUNT_NAME}",
            f"AccountKey={AZURITE_ACCOUNT_KEY}",
            f"BlobEndpoint={base}:{self.blob}/{AZURITE_ACCOUNT_NAME}",
            f"QueueEndpoint={base}:{self.queue}/{AZURITE_ACCOUNT_NAME}",
            f"TableEndpoint={base}:{self.table}/{AZURITE_ACCOUNT_NAME}",
        ]
        return ";".join(parts)


class ReadinessFileError(ValueError):
    """A readiness file exists but lacks a required key."""


def read_json_file(path: Path) -> dict[str, Any] | None:
    """Return the JSON object in path, or None while it is missing or half-written."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None

    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _require(data: dict[str, Any], key: str, source: Path) -> Any:
    if key not in data:
        raise ReadinessFileError(f"{source} is missing the key {key!r}")
    return data[key]


@dataclass(frozen=True)
class EmulatorInfo:
    """Contents of the emulator's connection.json."""

    arm_endpoint: str
    ca_bundle: str
    identity_endpoint: str
    identity_header: str
    subscription_id: str
    factory_lab_id: str
    team_lab_ids: list[str]
    control_endpoint: str
    storage_connection_string: str
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> EmulatorInfo:
        return cls(
            arm_endpoint=_require(data, "arm_endpoint", source),
            ca_bundle=_require(data, "ca_bundle", source),
            identity_endpoint=_require(data, "identity_endpoint", source),
            identity_header=_require(data, "identity_header", source),
            subscription_id=_require(data, "subscription_id", source),
            factory_lab_id=_require(data, "factory_lab_id", source),
            team_lab_ids=list(_require(data, "team_lab_ids", source)),
            control_endpoint=_require(data, "control_endpoint", source),
            storage_connection_string=_require(
                data, "storage_connection_string", source
            ),
            raw=data,
        )


@dataclass(frozen=True)
class DevhostInfo:
    """Contents of the dev host's devhost.json."""

    base_url: str
    function_key: str
    master_key: str
    pid: int
    functions: list[Any]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], source: Path) -> DevhostInfo:
        return cls(
            base_url=str(_require(data, "base_url", source)).rstrip("/"),
            function_key=_require(data, "function_key", source),
            master_key=_require(data, "master_key", source),
            pid=int(_require(data, "pid", source)),
            functions=list(_require(data, "functions", source)),
            raw=data,
        )


class ApiSession(requests.Session):
    """A requests session for the function app's HTTP API.

    Paths that start with '/' are joined to the dev host's current base URL,
    and every request carries the function key. Both are looked up per
    request, so the session keeps working after the dev host restarts on a
    new port.
    """

    def __init__(
        self, devhost: Callable[[], DevhostInfo], *, use_master_key: bool = False
    ) -> None:
        super().__init__()
        # The dev host listens on loopback, so proxy and CA settings from the
        # environment do not apply.
        self.trust_env = False
        self._devhost = devhost
        self._use_master_key = use_master_key

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        info = self._devhost()
        if isinstance(url, str) and url.startswith("/"):
            url = info.base_url + url

        key = info.master_key if self._use_master_key else info.function_key
        headers = dict(kwargs.pop("headers", None) or {})
        headers.setdefault(FUNCTION_KEY_HEADER, key)
        kwargs["headers"] = headers
        kwargs.setdefault("timeout", API_TIMEOUT_SECONDS)
        return super().request(method, url, *args, **kwargs)
