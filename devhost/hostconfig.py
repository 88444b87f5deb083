"""Read the host.json settings that the dev host honours.

Keys are matched case-insensitively, as the Functions host reads its
configuration. Defaults and limits follow the Storage queue extension's
``QueuesOptions`` (Microsoft.Azure.WebJobs.Extensions.Storage.Queues 5.x).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from devhost.errors import ConfigurationError

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 32
MIN_POLLING_INTERVAL = timedelta(milliseconds=100)
MAX_VISIBILITY_TIMEOUT = timedelta(days=7)

_TIMESPAN = re.compile(
    r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$"
)


@dataclass(frozen=True)
class QueuesOptions:
    """The ``extensions.queues`` section of host.json."""

    message_encoding: str = "base64"
    batch_size: int = 16
    new_batch_threshold: int = 8
    max_dequeue_count: int = 5
    visibility_timeout: timedelta = timedelta(0)
    max_polling_interval: timedelta = timedelta(minutes=1)

    @property
    def max_concurrency(self) -> int:
        """Maximum number of messages that one queue function processes at once."""
        return self.batch_size + self.new_batch_threshold


@dataclass(frozen=True)
class HostConfig:
    """The host.json settings that the dev host uses."""

    queues: QueuesOptions
    route_prefix: str = "api"
    function_timeout: timedelta | None = None
    functions: tuple[str, ...] | None = None


def parse_timespan(text: str, setting: str) -> timedelta:
    """Parse a .NET TimeSpan string such as ``00:00:10`` or ``1.02:00:00``.

    A bare integer means days, as ``TimeSpan.Parse`` reads it. Negative values
    are rejected because no setting that the dev host reads accepts them.
    """
    value = text.strip()
    if value.isdigit():
        return timedelta(days=int(value))

    match = _TIMESPAN.match(value)
    if match is None:
        raise ConfigurationError(
            f"host.json {setting} is not a valid TimeSpan: {text!r}; use hh:mm:ss, for example 00:00:30"
        )

    days, hours, minutes, seconds, fraction = match.groups()
    if int(hours) > 23 or int(minutes) > 59 or int(seconds or 0) > 59:
        raise ConfigurationError(f"host.json {setting} is out of range: {text!r}")

    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds or 0),
        microseconds=int((fraction or "0").ljust(7, "0")) / 10,
    )


def load_host_config(app_dir: Path) -> HostConfig:
    """Read host.json from the app directory and validate the settings the dev host uses."""
    path = app_dir / "host.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"host.json not found in the app directory {app_dir}"
        ) from exc
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc

    if not isinstance(document, dict):
        raise ConfigurationError(f"{path} must contain a JSON object")
    return parse_host_config(document)


def parse_host_config(document: Mapping[str, Any]) -> HostConfig:
    """Build a HostConfig from the parsed host.json object."""
    version = _get(document, "version")
    if version != "2.0":
        logger.warning(
            'host.json version is %r; the Functions host v4 expects "2.0"', version
        )

    extensions = _section(document, "extensions")
    http = _section(extensions, "http")
    route_prefix = _get(http, "routePrefix", "api")
    if not isinstance(route_prefix, str):
        raise ConfigurationError(
            "host.json extensions.http.routePrefix must be a string"
        )

    return HostConfig(
        queues=_parse_queues(_section(extensions, "queues")),
        route_prefix=route_prefix.strip("/"),
        function_timeout=_parse_function_timeout(_get(document, "functionTimeout")),
        functions=_parse_function_list(_get(document, "functions")),
    )


def _parse_queues(section: Mapping[str, Any]) -> QueuesOptions:
    encoding = str(_get(section, "messageEncoding", "base64")).lower()
    if encoding not in ("base64", "none"):
        raise ConfigurationError(
            f"host.json extensions.queues.messageEncoding must be base64 or none, not {encoding!r}"
        )

    batch_size = _int(section, "batchSize", 16, minimum=1, maximum=MAX_BATCH_SIZE)
    options = QueuesOptions(
        message_encoding=encoding,
        batch_size=batch_size,
        new_batch_threshold=_int(
            section, "newBatchThreshold", batch_size // 2, minimum=0
        ),
        max_dequeue_count=_int(section, "maxDequeueCount", 5, minimum=1),
        visibility_timeout=_timespan(section, "visibilityTimeout", timedelta(0)),
        max_polling_interval=_timespan(
            section, "maxPollingInterval", timedelta(minutes=1)
        ),
    )

    if options.max_polling_interval < MIN_POLLING_INTERVAL:
        raise ConfigurationError(
            "host.json extensions.queues.maxPollingInterval must be at least 100 ms"
        )
    if options.visibility_timeout > MAX_VISIBILITY_TIMEOUT:
        raise ConfigurationError(
            "host.json extensions.queues.visibilityTimeout must be at most 7 days"
        )
    return options


def _parse_function_timeout(value: Any) -> timedelta | None:
    if value is None or str(value).strip() == "-1":
        return None
    return parse_timespan(str(value), "functionTimeout")


def _parse_function_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ConfigurationError("host.json functions must be a list of function names")
    return tuple(value)


def _get(section: Mapping[str, Any], key: str, default: Any = None) -> Any:
    for name, value in section.items():
        if name.lower() == key.lower():
            return value
    return default


def _section(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = _get(parent, key, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"host.json {key} must be a JSON object")
    return value


def _int(
    section: Mapping[str, Any],
    key: str,
    default: int,
    *,
    minimum: int,
    maximum: int | None = None,
) -> int:
    value = _get(section, key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(
            f"host.json extensions.queues.{key} must be an integer, not {value!r}"
        )
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise ConfigurationError(
            f"host.json extensions.queues.{key} must be at least {minimum}{upper}, not {value}"
        )
    return value


def _timespan(section: Mapping[str, Any], key: str, default: timedelta) -> timedelta:
    value = _get(section, key)
    if value is None:
        return default
    return parse_timespan(str(value), f"extensions.queues.{key}")
