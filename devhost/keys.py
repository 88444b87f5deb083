"""Function and master keys, and the auth level check of HTTP requests."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from devhost.errors import ConfigurationError
from devhost.state import read_json, write_json_atomic

logger = logging.getLogger(__name__)

FUNCTION_KEY_VARIABLE = "DEVHOST_FUNCTION_KEY"
MASTER_KEY_VARIABLE = "DEVHOST_MASTER_KEY"
KEY_HEADER = "x-functions-key"
KEY_QUERY_PARAMETER = "code"

ANONYMOUS = "anonymous"
FUNCTION = "function"
ADMIN = "admin"
AUTH_LEVELS = (ANONYMOUS, FUNCTION, ADMIN)


@dataclass(frozen=True)
class HostKeys:
    """The keys that HTTP requests present: one function key for all functions and the master key."""

    function_key: str
    master_key: str

    def authorizes(self, auth_level: str, presented: str | None) -> bool:
        """Return whether the presented key satisfies the auth level.

        ``function`` accepts the function key or the master key, which is also a
        host key; ``admin`` accepts only the master key. Comparisons take
        constant time.
        """
        if auth_level == ANONYMOUS:
            return True
        if presented is None:
            return False

        is_master = hmac.compare_digest(presented.encode(), self.master_key.encode())
        if auth_level == ADMIN:
            return is_master
        return is_master or hmac.compare_digest(
            presented.encode(), self.function_key.encode()
        )


def load_keys(state_dir: Path, environ: Mapping[str, str] | None = None) -> HostKeys:
    """Return the keys from the environment, else from ``keys.json`` in the state directory.

    Keys missing from both are generated with ``secrets`` and stored in
    ``keys.json`` (mode 0600), so a restart keeps them.
    """
    settings = os.environ if environ is None else environ
    path = state_dir / "keys.json"
    stored = read_json(path) or {}
    if not isinstance(stored, dict):
        raise ConfigurationError(
            f"{path} must contain a JSON object; delete it to generate new keys"
        )

    function_key = stored.get("function_key") or _new_key()
    master_key = stored.get("master_key") or _new_key()
    if (
        stored.get("function_key") != function_key
        or stored.get("master_key") != master_key
    ):
        write_json_atomic(
            path, {"function_key": function_key, "master_key": master_key}, private=True
        )
        logger.info("generated host keys in %s", path)

    return HostKeys(
        function_key=settings.get(FUNCTION_KEY_VARIABLE) or function_key,
        master_key=settings.get(MASTER_KEY_VARIABLE) or master_key,
    )


def presented_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """Return the key from the ``x-functions-key`` header, else from the ``code`` query parameter."""
    for name, value in headers.items():
        if name.lower() == KEY_HEADER:
            return value
    return query.get(KEY_QUERY_PARAMETER)


def _new_key() -> str:
    return secrets.token_urlsafe(40)
