"""host.json parsing, local.settings.json, setting expressions and storage connections."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from devhost.appsettings import (
    apply_local_settings,
    resolve_setting_expressions,
    resolve_storage_connection,
)
from devhost.errors import ConfigurationError, StorageConnectionError
from devhost.hostconfig import QueuesOptions, parse_host_config, parse_timespan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00:10", timedelta(seconds=10)),
        ("00:01", timedelta(minutes=1)),
        ("1.02:03:04", timedelta(days=1, hours=2, minutes=3, seconds=4)),
        ("00:00:00.5", timedelta(milliseconds=500)),
        ("2", timedelta(days=2)),
    ],
)
def test_timespan_parse(text: str, expected: timedelta) -> None:
    assert parse_timespan(text, "setting") == expected


@pytest.mark.parametrize("text", ["10s", "-00:00:01", "00:60:00", "25:00:00"])
def test_timespan_rejects_text(text: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_timespan(text, "setting")


def test_host_config_defaults() -> None:
    config = parse_host_config({"version": "2.0"})

    assert config.queues == QueuesOptions()
    assert config.queues.max_concurrency == 24
    assert config.route_prefix == "api"
    assert config.function_timeout is None


def test_host_config_reads_queue_settings() -> None:
    document = {
        "version": "2.0",
        "functionTimeout": "00:10:00",
        "extensions": {
            "queues": {
                "MessageEncoding": "None",
                "batchSize": 8,
                "maxDequeueCount": 2,
                "visibilityTimeout": "00:00:30",
                "maxPollingInterval": "00:00:02",
            },
            "http": {"routePrefix": "/v1/"},
        },
    }

    config = parse_host_config(document)

    assert config.queues.message_encoding == "none"
    assert config.queues.batch_size == 8
    assert config.queues.new_batch_threshold == 4
    assert config.queues.max_dequeue_count == 2
    assert config.queues.visibility_timeout == timedelta(seconds=30)
    assert config.queues.max_polling_interval == timedelta(seconds=2)
    assert config.route_prefix == "v1"
    assert config.function_timeout == timedelta(minutes=10)


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ({"batchSize": 33}, "batchSize must be at least 1 and at most 32"),
        ({"batchSize": "4"}, "batchSize must be an integer"),
        ({"maxDequeueCount": 0}, "maxDequeueCount must be at least 1"),
        ({"newBatchThreshold": -1}, "newBatchThreshold must be at least 0"),
        ({"maxPollingInterval": "00:00:00.05"}, "at least 100 ms"),
        ({"messageEncoding": "utf8"}, "must be base64 or none"),
    ],
)
def test_host_config_rejects_queue_setting(
    queues: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        parse_host_config({"version": "2.0", "extensions": {"queues": queues}})

    assert message in str(error.value)


def test_local_settings_fill_missing_values(tmp_path: Path) -> None:
    values = {"FROM_FILE": "file", "SET_BOTH": "file", "FLAG": True, "COUNT": 3}
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"IsEncrypted": False, "Values": values})
    )
    environ = {"SET_BOTH": "environment"}

    applied = apply_local_settings(tmp_path, environ)

    assert environ == {
        "SET_BOTH": "environment",
        "FROM_FILE": "file",
        "FLAG": "true",
        "COUNT": "3",
    }
    assert sorted(applied) == ["COUNT", "FLAG", "FROM_FILE"]


def test_local_settings_missing_file_applies_nothing(tmp_path: Path) -> None:
    assert apply_local_settings(tmp_path, {}) == []


def test_local_settings_rejects_encrypted_file(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text(
        json.dumps({"IsEncrypted": True, "Values": {}})
    )

    with pytest.raises(ConfigurationError, match="encrypted"):
        apply_local_settings(tmp_path, {})


def test_setting_expression_resolves() -> None:
    resolved = resolve_setting_expressions(
        "%PREFIX%-jobs", "function f queueName", {"PREFIX": "dev"}
    )

    assert resolved == "dev-jobs"


def test_setting_expression_missing_names_setting() -> None:
    with pytest.raises(ConfigurationError) as error:
        resolve_setting_expressions("%MISSING%", "function f schedule", {})

    assert "function f schedule" in str(error.value)
    assert "%MISSING%" in str(error.value)


@pytest.mark.parametrize(
    ("connection", "environ", "expected"),
    [
        ("", {"AzureWebJobsStorage": "default"}, "default"),
        ("AzureWebJobsStorage", {"AzureWebJobsStorage": "default"}, "default"),
        ("Jobs", {"AzureWebJobsJobs": "prefixed", "Jobs": "plain"}, "prefixed"),
        ("Jobs", {"Jobs": "plain"}, "plain"),
    ],
)
def test_storage_connection_lookup(
    connection: str, environ: dict[str, str], expected: str
) -> None:
    assert resolve_storage_connection(connection, environ) == expected


def test_storage_connection_missing_names_setting() -> None:
    with pytest.raises(StorageConnectionError, match="'Jobs' is not set"):
        resolve_storage_connection("Jobs", {})


def test_storage_connection_rejects_identity() -> None:
    environ = {"Jobs__queueServiceUri": "https://account.queue.core.windows.net"}

    with pytest.raises(StorageConnectionError, match="identity-based"):
        resolve_storage_connection("Jobs", environ)
