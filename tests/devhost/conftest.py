"""Fixtures of the dev host tests: one Azurite for the session and a dev host running the sample app."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from devhost_testing import SAMPLE_APP, AzuriteProcess, DevHostProcess, SampleHost


@pytest.fixture(scope="session")
def devhost_azurite(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AzuriteProcess]:
    """Start Azurite on free loopback ports for the dev host tests."""
    azurite = AzuriteProcess(tmp_path_factory.mktemp("devhost-azurite") / "data")
    azurite.start()
    try:
        yield azurite
    finally:
        azurite.stop()


@pytest.fixture(scope="session")
def sample_settings(
    devhost_azurite: AzuriteProcess,
) -> Callable[[Path], dict[str, str]]:
    """Return a factory of app settings with queue names that no other dev host in the session uses."""

    def settings(records_file: Path) -> dict[str, str]:
        suffix = secrets.token_hex(4)
        return {
            "AzureWebJobsStorage": devhost_azurite.connection_string,
            "SAMPLE_WORK_QUEUE": f"work-{suffix}",
            "SAMPLE_TEXT_QUEUE": f"text-{suffix}",
            "SAMPLE_TICK_SCHEDULE": "*/1 * * * * *",
            "SAMPLE_RECORDS_FILE": str(records_file),
        }

    return settings


@pytest.fixture(scope="session")
def start_sample_host(
    tmp_path_factory: pytest.TempPathFactory,
    sample_settings: Callable[[Path], dict[str, str]],
) -> Iterator[Callable[..., SampleHost]]:
    """Return a function that starts a dev host with the sample app; every host stops at the end."""
    started: list[DevHostProcess] = []

    def start(
        *extra_args: str,
        state_dir: Path | None = None,
        settings: dict[str, str] | None = None,
    ) -> SampleHost:
        directory = tmp_path_factory.mktemp("devhost-run")
        state = state_dir or directory / "state"
        records_file = (
            Path(settings["SAMPLE_RECORDS_FILE"])
            if settings
            else directory / "records.jsonl"
        )
        environ = settings or sample_settings(records_file)
        process = DevHostProcess(SAMPLE_APP, state, environ, *extra_args).start()
        started.append(process)
        return SampleHost(process, process.wait_ready(), environ, records_file)

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="session")
def sample_host(start_sample_host: Callable[..., SampleHost]) -> SampleHost:
    """A dev host with the sample app, shared by the tests that do not stop it."""
    return start_sample_host("--max-request-bytes", "4096")
