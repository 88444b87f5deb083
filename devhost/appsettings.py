"""App settings: the process environment, local.settings.json and ``%NAME%`` expressions.

The process environment is the app settings, as in Azure. local.settings.json
fills in the values that the environment does not set, as Core Tools does.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from pathlib import Path

from devhost.errors import ConfigurationError, StorageConnectionError

logger = logging.getLogger(__name__)

DEFAULT_STORAGE_CONNECTION = "AzureWebJobsStorage"

_SETTING_EXPRESSION = re.compile(r"%([^%]+)%")
_IDENTITY_SUFFIXES = (
    "__queueServiceUri",
    "__serviceUri",
    "__accountName",
    "__credential",
)


def apply_local_settings(
    app_dir: Path, environ: MutableMapping[str, str] | None = None
) -> list[str]:
    """Copy local.settings.json ``Values`` into the environment where it does not set them.

    Returns the names of the settings that were applied. A missing file is not
    an error, because in Azure and in CI the settings come from the environment.
    """
    target = os.environ if environ is None else environ
    path = app_dir / "local.settings.json"
    if not path.exists():
        return []

    values = _read_local_values(path)
    applied = []
    for name, value in values.items():
        if name not in target:
            target[name] = value
            applied.append(name)

    logger.info("applied %d of %d settings from %s", len(applied), len(values), path)
    return applied


def _read_local_values(path: Path) -> dict[str, str]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc

    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} must contain a JSON object")
    if document.get("IsEncrypted") is True:
        raise ConfigurationError(
            f"{path} is encrypted; decrypt it with 'func settings decrypt'"
        )

    values = document.get("Values", {})
    if not isinstance(values, dict):
        raise ConfigurationError(f"{path}: Values must be a JSON object")
    return {name: _setting_text(path, name, value) for name, value in values.items()}


def _setting_text(path: Path, name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ConfigurationError(
        f"{path}: Values.{name} must be a string, not {type(value).__name__}"
    )


def resolve_setting_expressions(
    text: str, owner: str, environ: Mapping[str, str] | None = None
) -> str:
    """Replace each ``%NAME%`` in a binding value with the app setting NAME.

    ``owner`` names the function and binding property in the error message.
    """
    settings = os.environ if environ is None else environ

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = settings.get(name)
        if value is None:
            raise ConfigurationError(
                f"{owner} refers to the app setting %{name}%, which is not set"
            )
        return value

    return _SETTING_EXPRESSION.sub(substitute, text)


def resolve_storage_connection(
    connection: str | None, environ: Mapping[str, str] | None = None
) -> str:
    """Return the storage connection string for a trigger's ``connection`` property.

    Like the Functions host, the lookup tries ``AzureWebJobs<name>`` before
    ``<name>``, and an empty name means ``AzureWebJobsStorage``.
    """
    settings = os.environ if environ is None else environ
    name = connection or DEFAULT_STORAGE_CONNECTION

    candidates = (
        [name] if name.startswith("AzureWebJobs") else [f"AzureWebJobs{name}", name]
    )
    for candidate in candidates:
        value = settings.get(candidate)
        if value:
            return value

    if any(f"{name}{suffix}" in settings for suffix in _IDENTITY_SUFFIXES):
        raise StorageConnectionError(
            f"connection {name!r} is identity-based ({name}__...); the dev host supports only "
            f"connection strings, so set {name} to one, for example UseDevelopmentStorage=true"
        )
    raise StorageConnectionError(
        f"connection setting {name!r} is not set; set it to a storage connection string, "
        "for example UseDevelopmentStorage=true"
    )
