"""Fixtures of the emulator tests: Azurite and one emulator for the session.

Tests talk to the emulator with the real SDK clients, which reach it
through the same environment as the function app: IDENTITY_ENDPOINT and
IDENTITY_HEADER for DefaultAzureCredential, REQUESTS_CA_BUNDLE for TLS.
Every test starts from a reset emulator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from azure.identity import DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.devtestlabs import DevTestLabsClient
from azure.storage.blob import BlobServiceClient
from emulator_testing import (
    ARM_SCOPES,
    TEST_TIME_SCALE,
    Controls,
    RunningEmulator,
    get_token,
    loopback_session,
    start_emulator,
)

from scripts.localstack import LocalStack


@pytest.fixture(scope="session")
def emulator_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start Azurite on free loopback ports; return its connection string."""
    stack = LocalStack(tmp_path_factory.mktemp("emulator-azurite"))
    try:
        yield stack.start_azurite()
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def emulator_instance(
    emulator_azurite: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEmulator]:
    """Start the emulator with the default seed and a fast clock."""
    running = start_emulator(
        tmp_path_factory.mktemp("emulator") / "state", emulator_azurite
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def controls(emulator_instance: RunningEmulator) -> Controls:
    """Return the control client of an emulator reset for this test."""
    client = emulator_instance.controls()
    client.reset()
    client.set_time_scale(TEST_TIME_SCALE)
    return client


@pytest.fixture
def sdk_env(
    emulator_instance: RunningEmulator,
    controls: Controls,
    monkeypatch: pytest.MonkeyPatch,
) -> RunningEmulator:
    """Point the Azure SDK at the emulator as the function app's settings do."""
    monkeypatch.setenv(
        "IDENTITY_ENDPOINT", str(emulator_instance.info["identity_endpoint"])
    )
    monkeypatch.setenv(
        "IDENTITY_HEADER", str(emulator_instance.info["identity_header"])
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator_instance.ca_bundle)
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    return emulator_instance


@pytest.fixture
def dtl(sdk_env: RunningEmulator) -> DevTestLabsClient:
    return DevTestLabsClient(
        DefaultAzureCredential(),
        sdk_env.subscription_id,
        base_url=sdk_env.arm_endpoint,
        credential_scopes=ARM_SCOPES,
    )


@pytest.fixture
def compute(sdk_env: RunningEmulator) -> ComputeManagementClient:
    return ComputeManagementClient(
        DefaultAzureCredential(),
        sdk_env.subscription_id,
        base_url=sdk_env.arm_endpoint,
        credential_scopes=ARM_SCOPES,
    )


@pytest.fixture
def arm(emulator_instance: RunningEmulator, controls: Controls) -> requests.Session:
    """Return a requests session with a bearer token, for raw ARM calls."""
    session = loopback_session(emulator_instance.ca_bundle)
    session.headers["Authorization"] = f"Bearer {get_token(emulator_instance)}"
    return session


@pytest.fixture
def blob_service(emulator_azurite: str) -> BlobServiceClient:
    """Return a client of the emulator's Azurite with the account key."""
    return BlobServiceClient.from_connection_string(emulator_azurite)
