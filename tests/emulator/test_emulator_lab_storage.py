"""The blob data plane of the labs' storage accounts, through the storage SDK."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.identity import DefaultAzureCredential
from azure.mgmt.devtestlabs import DevTestLabsClient
from azure.mgmt.devtestlabs.models import CustomImage, CustomImagePropertiesCustom
from azure.storage.blob import (
    BlobClient,
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    generate_blob_sas,
)
from emulator_testing import (
    ARM_SCOPES,
    RESOURCE_GROUP,
    TEAM_LAB,
    Controls,
    RunningEmulator,
    get_token,
    loopback_session,
    wait_for_image,
)

from emulator import vhd
from emulator.authorization import AccessControl, RoleAssignment
from emulator.blobs import BlobStore
from emulator.devtestlab.models import Lab
from emulator.identity import ManagedIdentity, TokenService
from emulator.storageplane import StoragePlane
from emulator.storageproxy import AzuriteProxy
from emulator.wire import Request

pytestmark = pytest.mark.integration

SOURCE_CONTAINER = "lab-storage-sources"
METADATA = {"createdby": "imagefactory", "FactoryRun": "run-42"}
STORAGE_RESOURCE = "https://storage.azure.com"


class _FixedToken:
    """A credential that returns one token whatever scope the client asks for."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def _disk(label: str) -> bytes:
    return vhd.build_disk({"label": label}, uuid.uuid4(), datetime.now(UTC))


def _account(dtl: DevTestLabsClient, lab: str = TEAM_LAB) -> str:
    storage_id = dtl.labs.get(RESOURCE_GROUP, lab).default_storage_account
    return str(storage_id).rsplit("/", 1)[-1]


def _account_url(emulator: RunningEmulator, account: str) -> str:
    return f"{emulator.arm_endpoint}/{account}"


def _token_blob(
    emulator: RunningEmulator, account: str, blob: str, credential: object = None
) -> BlobClient:
    """Return a client of a blob in the lab's upload container that authenticates with a token."""
    return BlobClient(
        _account_url(emulator, account),
        "uploads",
        blob,
        credential=credential or DefaultAzureCredential(),
    )


def _source_sas_url(blob_service: BlobServiceClient, name: str, data: bytes) -> str:
    """Upload a blob to Azurite directly and return a read SAS URL, as the image store gives one."""
    container = blob_service.get_container_client(SOURCE_CONTAINER)
    if not container.exists():
        container.create_container()
    client = container.get_blob_client(name)
    client.upload_blob(data, blob_type="PageBlob", overwrite=True)
    credential = blob_service.credential
    sas = generate_blob_sas(
        credential.account_name,
        SOURCE_CONTAINER,
        name,
        account_key=credential.account_key,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(minutes=10),
    )
    return f"{client.url}?{sas}"


def _copy_upload(
    dtl: DevTestLabsClient, blob_service: BlobServiceClient, name: str
) -> str:
    """Copy a VHD into the team lab's upload container as the factory does; return the upload URI."""
    source = _source_sas_url(blob_service, name, _disk(name))
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, TEAM_LAB, blob_name=name
    ).upload_uri
    BlobClient.from_blob_url(upload_uri).start_copy_from_url(source, metadata=METADATA)
    return str(upload_uri)


def _azurite_blob(blob_service: BlobServiceClient, name: str) -> BlobClient:
    return blob_service.get_blob_client(f"{TEAM_LAB}-uploads", name)


def _lab_id(emulator: RunningEmulator, lab: str = TEAM_LAB) -> str:
    return (
        f"/subscriptions/{emulator.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.DevTestLab/labs/{lab}"
    )


def test_sas_copy_keeps_metadata_and_cannot_delete(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    upload_uri = _copy_upload(dtl, blob_service, "sas-copy.vhd")
    client = BlobClient.from_blob_url(upload_uri)

    properties = client.get_blob_properties()
    with pytest.raises(HttpResponseError) as raised:
        client.delete_blob()

    assert properties.copy.status == "success"
    assert properties.size == vhd.DISK_BYTES
    assert properties.blob_type == "PageBlob"
    assert properties.metadata == METADATA
    assert raised.value.status_code == 403
    assert _azurite_blob(blob_service, "sas-copy.vhd").exists()


def test_expired_upload_sas_fails_copy(
    dtl: DevTestLabsClient,
    controls: Controls,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
) -> None:
    controls.add_fault(kind="blob_copy_failure", name="expired.vhd", count=1)
    source = _source_sas_url(blob_service, "expired.vhd", b"x" * 512)
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, TEAM_LAB, blob_name="expired.vhd"
    ).upload_uri

    with pytest.raises(HttpResponseError) as raised:
        BlobClient.from_blob_url(upload_uri).start_copy_from_url(source)

    assert raised.value.status_code == 403
    assert not _azurite_blob(blob_service, "expired.vhd").exists()


def test_token_delete_with_blob_data_contributor(
    dtl: DevTestLabsClient,
    controls: Controls,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
) -> None:
    controls.set_role_assignments(
        [
            {"identity": "system", "role": "Contributor", "lab": TEAM_LAB},
            {
                "identity": "system",
                "role": "Storage Blob Data Contributor",
                "lab_storage": TEAM_LAB,
            },
        ]
    )
    _copy_upload(dtl, blob_service, "token-delete.vhd")

    _token_blob(sdk_env, _account(dtl), "token-delete.vhd").delete_blob()

    assert not _azurite_blob(blob_service, "token-delete.vhd").exists()


def test_token_delete_with_only_lab_contributor_is_403(
    dtl: DevTestLabsClient,
    controls: Controls,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
) -> None:
    _copy_upload(dtl, blob_service, "kept-upload.vhd")
    controls.set_role_assignments(
        [{"identity": "system", "role": "Contributor", "lab": TEAM_LAB}]
    )

    with pytest.raises(HttpResponseError) as raised:
        _token_blob(sdk_env, _account(dtl), "kept-upload.vhd").delete_blob()

    assert raised.value.status_code == 403
    assert raised.value.error_code == "AuthorizationPermissionMismatch"
    assert "not authorized" in str(raised.value)
    assert _azurite_blob(blob_service, "kept-upload.vhd").exists()


def test_data_reader_can_read_but_not_delete(
    dtl: DevTestLabsClient,
    controls: Controls,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
) -> None:
    _copy_upload(dtl, blob_service, "read-only.vhd")
    account = _account(dtl)
    controls.set_role_assignments(
        [
            {"identity": "system", "role": "Contributor", "lab": TEAM_LAB},
            {
                "identity": "system",
                "role": "Storage Blob Data Reader",
                "scope": f"/subscriptions/{sdk_env.subscription_id}/resourceGroups/{RESOURCE_GROUP}",
            },
        ]
    )
    client = _token_blob(sdk_env, account, "read-only.vhd")

    properties = client.get_blob_properties()
    with pytest.raises(HttpResponseError) as raised:
        client.delete_blob()

    assert properties.metadata == METADATA
    assert raised.value.error_code == "AuthorizationPermissionMismatch"


def test_token_writes_pages_and_downloads(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    data = _disk("token-pages")
    client = _token_blob(sdk_env, _account(dtl), "token-pages.vhd")

    client.create_page_blob(len(data), metadata=METADATA)
    client.upload_page(data[: 64 * 1024], offset=0, length=64 * 1024)
    client.upload_page(data[-512:], offset=len(data) - 512, length=512)
    downloaded = client.download_blob().readall()
    head = client.download_blob(offset=0, length=512).readall()

    assert len(downloaded) == len(data)
    assert downloaded[: 64 * 1024] == data[: 64 * 1024]
    assert downloaded[-512:] == data[-512:]
    assert head == data[:512]
    assert _azurite_blob(
        blob_service, "token-pages.vhd"
    ).get_blob_properties().size == len(data)


def test_token_upload_block_blob(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    _token_blob(sdk_env, _account(dtl), "notes.txt").upload_blob(
        b"uploaded with a token", metadata=METADATA
    )

    stored = _azurite_blob(blob_service, "notes.txt")

    assert stored.download_blob().readall() == b"uploaded with a token"
    assert stored.get_blob_properties().metadata == METADATA


def test_list_blobs_with_metadata(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    _copy_upload(dtl, blob_service, "listed-1.vhd")
    _copy_upload(dtl, blob_service, "listed-2.vhd")
    container = ContainerClient(
        _account_url(sdk_env, _account(dtl)),
        "uploads",
        credential=DefaultAzureCredential(),
    )

    blobs = list(container.list_blobs("listed-", include=["metadata"]))

    assert [blob.name for blob in blobs] == ["listed-1.vhd", "listed-2.vhd"]
    assert [blob.metadata for blob in blobs] == [METADATA, METADATA]
    assert {blob.container for blob in blobs} == {"uploads"}


def test_arm_token_rejected_by_storage(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    _copy_upload(dtl, blob_service, "arm-token.vhd")
    credential = _FixedToken(get_token(sdk_env))

    with pytest.raises(ClientAuthenticationError) as raised:
        _token_blob(sdk_env, _account(dtl), "arm-token.vhd", credential).delete_blob()

    challenge = raised.value.response.headers["WWW-Authenticate"]
    assert raised.value.status_code == 401
    assert raised.value.error_code == "InvalidAuthenticationInfo"
    assert challenge.startswith("Bearer authorization_uri=")
    assert f"resource_id={STORAGE_RESOURCE}" in challenge
    assert _azurite_blob(blob_service, "arm-token.vhd").exists()


def test_storage_token_rejected_by_arm(sdk_env: RunningEmulator) -> None:
    token = get_token(sdk_env, resource=STORAGE_RESOURCE)
    client = DevTestLabsClient(
        _FixedToken(token),  # type: ignore[arg-type]
        sdk_env.subscription_id,
        base_url=sdk_env.arm_endpoint,
        credential_scopes=ARM_SCOPES,
    )

    with pytest.raises(ClientAuthenticationError) as raised:
        client.labs.get(RESOURCE_GROUP, TEAM_LAB)

    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidAuthenticationTokenAudience"


@pytest.mark.parametrize("resource", [STORAGE_RESOURCE, f"{STORAGE_RESOURCE}/"])
def test_identity_endpoint_issues_storage_tokens(
    dtl: DevTestLabsClient,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
    resource: str,
) -> None:
    _copy_upload(dtl, blob_service, "raw-token.vhd")
    token = get_token(sdk_env, resource=resource)

    response = loopback_session(sdk_env.ca_bundle).head(
        f"{_account_url(sdk_env, _account(dtl))}/uploads/raw-token.vhd",
        headers={"Authorization": f"Bearer {token}", "x-ms-version": "2021-08-06"},
        timeout=30,
    )

    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(vhd.DISK_BYTES)
    assert response.headers["x-ms-meta-FactoryRun"] == "run-42"
    assert response.content == b""


def test_request_without_credentials_is_401(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator
) -> None:
    response = loopback_session(sdk_env.ca_bundle).get(
        f"{_account_url(sdk_env, _account(dtl))}/uploads/anything.vhd", timeout=30
    )

    assert response.status_code == 401
    assert response.headers["x-ms-error-code"] == "NoAuthenticationInformation"
    assert response.headers["x-ms-request-id"]
    assert response.headers["Content-Type"] == "application/xml"
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?><Error>')
    assert "<Code>NoAuthenticationInformation</Code>" in response.text
    assert "\nRequestId:" in response.text
    assert (
        "resource_id=https://storage.azure.com" in response.headers["WWW-Authenticate"]
    )


def test_unknown_container_is_404(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator
) -> None:
    container = ContainerClient(
        _account_url(sdk_env, _account(dtl)),
        "vhds",
        credential=DefaultAzureCredential(),
    )

    with pytest.raises(ResourceNotFoundError) as raised:
        list(container.list_blobs())

    assert raised.value.status_code == 404
    assert raised.value.error_code == "ContainerNotFound"


def test_storage_requests_stay_out_of_request_log(
    dtl: DevTestLabsClient,
    controls: Controls,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
) -> None:
    account = _account(dtl)
    since = controls.last_seq()
    _copy_upload(dtl, blob_service, "unlogged.vhd")
    _token_blob(sdk_env, account, "unlogged.vhd").delete_blob()

    paths = [str(entry["path"]) for entry in controls.requests(since)]

    assert any(path.endswith("/generateUploadUri") for path in paths)
    assert not [path for path in paths if path.startswith(f"/{account}")]


def test_custom_image_from_data_plane_url(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    upload_uri = _copy_upload(dtl, blob_service, "from-plane.vhd")
    image = CustomImage(
        vhd=CustomImagePropertiesCustom(
            image_name=upload_uri, sys_prep=True, os_type="Windows"
        )
    )

    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "from-plane", image, polling=False
    )

    assert wait_for_image(dtl, TEAM_LAB, "from-plane").provisioning_state == "Succeeded"


@pytest.mark.parametrize(
    "template",
    [
        "{azurite}/{container}/elsewhere.vhd",
        "https://example.invalid/{account}/uploads/elsewhere.vhd",
    ],
    ids=["azurite-url", "other-host"],
)
def test_custom_image_from_other_url_is_rejected(
    dtl: DevTestLabsClient,
    sdk_env: RunningEmulator,
    blob_service: BlobServiceClient,
    template: str,
) -> None:
    _copy_upload(dtl, blob_service, "elsewhere.vhd")
    url = template.format(
        azurite=blob_service.url.rstrip("/"),
        container=f"{TEAM_LAB}-uploads",
        account=_account(dtl),
    )
    image = CustomImage(
        vhd=CustomImagePropertiesCustom(
            image_name=url, sys_prep=True, os_type="Windows"
        )
    )

    with pytest.raises(HttpResponseError) as raised:
        dtl.custom_images.begin_create_or_update(
            RESOURCE_GROUP, TEAM_LAB, "elsewhere", image, polling=False
        )

    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidStorageAccountForLab"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_azurite_down_is_503_server_busy(
    emulator_azurite: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lab = Lab("s", "rg", "lab-down", "westeurope", "team", "lab-down", "2026-01-01")
    identity = ManagedIdentity("system", "principal-1", None)
    tokens = TokenService(b"k" * 32, "header", "tenant", [identity])
    access = AccessControl(
        [RoleAssignment("principal-1", "Storage Blob Data Owner", "/subscriptions/s")]
    )
    plane = StoragePlane(
        lambda: [lab],
        BlobStore(emulator_azurite),
        tokens,
        access,
        AzuriteProxy(f"http://127.0.0.1:{_free_port()}/devstoreaccount1", timeout=5),
    )
    token = tokens.issue(identity, STORAGE_RESOURCE)["access_token"]
    path = f"/{lab.storage_account_name}/uploads/down.vhd"
    request = Request(
        "GET",
        path,
        {},
        {"authorization": f"Bearer {token}"},
        b"",
        "https://127.0.0.1:1",
    )

    target = plane.target(path)
    assert target is not None
    response = plane.handle(request, target)

    assert response.status == 503
    assert response.headers["x-ms-error-code"] == "ServerBusy"
    assert "forwarding GET" in caplog.text
