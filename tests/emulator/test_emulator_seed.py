"""Seed files, user-assigned identities, lab policies, restart and SIGTERM."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
from azure.mgmt.devtestlabs import DevTestLabsClient
from azure.storage.blob import BlobClient, BlobServiceClient
from emulator_testing import (
    ARM_SCOPES,
    RunningEmulator,
    get_token,
    lab_vm,
    loopback_session,
    start_emulator,
    wait_for_vm,
)

from scripts.localstack.processes import ServiceExitedError

pytestmark = pytest.mark.integration

SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
DEPLOYER_CLIENT_ID = "5f0e3a9b-2c4d-4e8f-9a1b-3c5d7e9f1a2b"
SEED = textwrap.dedent(
    f"""\
    subscription_id: {SUBSCRIPTION}
    labs:
      - name: lab-build
        resource_group: rg-seeded
        location: northeurope
        kind: factory
        max_vms: 1
        allowed_sizes: [Standard_B2s]
        storage:
          container_prefix: seeded-build
      - name: lab-users
        resource_group: rg-seeded
        location: northeurope
    identities:
      - name: system
        principal_id: 11111111-0000-0000-0000-000000000001
      - name: deployer
        principal_id: 11111111-0000-0000-0000-000000000002
        client_id: {DEPLOYER_CLIENT_ID}
    role_assignments:
      - identity: system
        role: Contributor
        scope: /subscriptions/{SUBSCRIPTION}/resourceGroups/rg-seeded
      - identity: deployer
        role: Reader
        lab: lab-users
    """
)


@pytest.fixture(scope="module")
def seeded(
    emulator_azurite: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEmulator]:
    root = tmp_path_factory.mktemp("seeded")
    seed_file = root / "labs.yaml"
    seed_file.write_text(SEED, encoding="utf-8")
    running = start_emulator(
        root / "state", emulator_azurite, seed_file=seed_file, name="seeded"
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def seeded_env(
    seeded: RunningEmulator, monkeypatch: pytest.MonkeyPatch
) -> RunningEmulator:
    seeded.controls().reset()
    monkeypatch.setenv("IDENTITY_ENDPOINT", str(seeded.info["identity_endpoint"]))
    monkeypatch.setenv("IDENTITY_HEADER", str(seeded.info["identity_header"]))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", seeded.ca_bundle)
    return seeded


def _client(
    emulator: RunningEmulator, credential: object | None = None
) -> DevTestLabsClient:
    return DevTestLabsClient(
        credential or DefaultAzureCredential(),  # type: ignore[arg-type]
        emulator.subscription_id,
        base_url=emulator.arm_endpoint,
        credential_scopes=ARM_SCOPES,
    )


def test_seed_labs_in_connection_file(seeded: RunningEmulator) -> None:
    prefix = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-seeded/providers/Microsoft.DevTestLab/labs"

    assert seeded.info["subscription_id"] == SUBSCRIPTION
    assert seeded.info["factory_lab_id"] == f"{prefix}/lab-build"
    assert seeded.info["team_lab_ids"] == [f"{prefix}/lab-users"]


def test_seed_storage_prefix_names_upload_container(
    seeded_env: RunningEmulator, emulator_azurite: str
) -> None:
    uri = (
        _client(seeded_env)
        .labs.generate_upload_uri("rg-seeded", "lab-build", blob_name="x.vhd")
        .upload_uri
    )
    BlobClient.from_blob_url(uri).upload_blob(b"seeded", overwrite=True)
    stored = BlobServiceClient.from_connection_string(emulator_azurite).get_blob_client(
        "seeded-build-uploads", "x.vhd"
    )

    assert "/uploads/x.vhd?" in uri
    assert stored.download_blob().readall() == b"seeded"


def test_seed_lab_vm_count_limit(seeded_env: RunningEmulator) -> None:
    client = _client(seeded_env)
    body = lab_vm(size="Standard_B2s", location="northeurope")
    client.virtual_machines.begin_create_or_update(
        "rg-seeded", "lab-build", "first", body, polling=False
    )

    with pytest.raises(HttpResponseError) as raised:
        client.virtual_machines.begin_create_or_update(
            "rg-seeded", "lab-build", "second", body, polling=False
        )

    assert raised.value.error is not None
    assert raised.value.error.code == "LabVmCountLimitReached"


def test_seed_allowed_sizes_policy(seeded_env: RunningEmulator) -> None:
    body = lab_vm(size="Standard_D2s_v3", location="northeurope")

    with pytest.raises(HttpResponseError) as raised:
        _client(seeded_env).virtual_machines.begin_create_or_update(
            "rg-seeded", "lab-build", "too-big", body, polling=False
        )

    assert raised.value.status_code == 400
    assert "AllowedVmSizesInLab" in str(raised.value)


def test_user_assigned_identity_has_its_own_roles(seeded_env: RunningEmulator) -> None:
    client = _client(
        seeded_env, ManagedIdentityCredential(client_id=DEPLOYER_CLIENT_ID)
    )

    lab = client.labs.get("rg-seeded", "lab-users")
    with pytest.raises(HttpResponseError) as raised:
        client.labs.get("rg-seeded", "lab-build")

    assert lab.name == "lab-users"
    assert raised.value.error is not None
    assert raised.value.error.code == "AuthorizationFailed"
    assert "11111111-0000-0000-0000-000000000002" in str(raised.value)


def test_unknown_client_id_gets_no_token(seeded: RunningEmulator) -> None:
    response = loopback_session(seeded.ca_bundle).get(
        str(seeded.info["identity_endpoint"]),
        params={
            "api-version": "2019-08-01",
            "resource": "https://management.azure.com",
            "client_id": "nobody",
        },
        headers={"X-IDENTITY-HEADER": str(seeded.info["identity_header"])},
        timeout=30,
    )

    assert response.status_code == 400


def test_restart_keeps_state_and_sigterm_stops_cleanly(
    emulator_azurite: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = tmp_path / "state"
    first = start_emulator(state_dir, emulator_azurite, name="restarted")
    monkeypatch.setenv("IDENTITY_ENDPOINT", str(first.info["identity_endpoint"]))
    monkeypatch.setenv("IDENTITY_HEADER", str(first.info["identity_header"]))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", first.ca_bundle)
    client = _client(first)
    client.virtual_machines.begin_create_or_update(
        "rg-imagefactory", "dtl-image-factory", "survivor", lab_vm(), polling=False
    )
    before = wait_for_vm(client, "dtl-image-factory", "survivor")
    token = get_token(first)
    ca_before = Path(first.ca_bundle).read_bytes()

    exit_code = first.stop()
    file_removed = not (state_dir / "connection.json").exists()
    second = start_emulator(state_dir, emulator_azurite, name="restarted")
    try:
        session = loopback_session(second.ca_bundle)
        session.headers["Authorization"] = f"Bearer {token}"
        url = (
            f"{second.arm_endpoint}/subscriptions/{second.subscription_id}/resourceGroups/rg-imagefactory"
            "/providers/Microsoft.DevTestLab/labs/dtl-image-factory/virtualmachines/survivor"
            "?api-version=2018-09-15"
        )
        after = session.get(url, timeout=30)
    finally:
        second.stop()

    assert exit_code == 0
    assert file_removed
    assert Path(second.ca_bundle).read_bytes() == ca_before
    assert second.info["identity_header"] == first.info["identity_header"]
    assert after.status_code == 200
    assert after.json()["properties"]["uniqueIdentifier"] == before.unique_identifier
    assert after.json()["properties"]["provisioningState"] == "Succeeded"


def test_invalid_seed_file_stops_start(emulator_azurite: str, tmp_path: Path) -> None:
    seed_file = tmp_path / "bad.yaml"
    seed_file.write_text("labs: []\n", encoding="utf-8")

    with pytest.raises(ServiceExitedError) as raised:
        start_emulator(
            tmp_path / "state", emulator_azurite, seed_file=seed_file, name="bad-seed"
        )

    assert "seed file" in raised.value.log_tail
    assert "labs" in raised.value.log_tail
