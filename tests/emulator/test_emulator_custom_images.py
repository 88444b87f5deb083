"""Custom images from VHDs, upload URIs and the content control."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.devtestlabs import DevTestLabsClient
from azure.mgmt.devtestlabs.models import CustomImage, CustomImagePropertiesCustom
from azure.storage.blob import BlobClient, BlobServiceClient
from emulator_testing import (
    RESOURCE_GROUP,
    TEAM_LAB,
    Controls,
    RunningEmulator,
    capture_image,
    wait_for_image,
    wait_until_gone,
)

from emulator import vhd

pytestmark = pytest.mark.integration


def _vhd_image(url: str, os_type: str = "Windows") -> CustomImage:
    return CustomImage(
        vhd=CustomImagePropertiesCustom(image_name=url, sys_prep=True, os_type=os_type),
        description="uploaded by a test",
        tags={"factory-image": "uploaded"},
    )


def _upload(dtl: DevTestLabsClient, lab: str, blob_name: str, data: bytes) -> str:
    """Upload bytes through the lab's upload URI as a page blob; return the URL without SAS."""
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, lab, blob_name=blob_name
    ).upload_uri
    client = BlobClient.from_blob_url(upload_uri)
    client.create_page_blob(len(data))
    client.upload_page(data, offset=0, length=len(data))
    return upload_uri.split("?", 1)[0]


def _fixed_vhd(label: str) -> bytes:
    return vhd.build_disk({"label": label}, uuid.uuid4(), datetime.now(UTC))


def test_custom_image_from_captured_disk_keeps_artifacts(
    dtl: DevTestLabsClient,
    compute: ComputeManagementClient,
    sdk_env: RunningEmulator,
    controls: Controls,
) -> None:
    image = capture_image(dtl, compute, sdk_env, TEAM_LAB, "win2022-v1")
    content = controls.content(resource_id=image.id)

    assert image.provisioning_state == "Succeeded"
    assert image.vhd.os_type == "Windows"
    assert image.tags == {"factory-image": "win2022-v1"}
    assert content["size"] == vhd.DISK_BYTES
    assert [item["name"] for item in content["record"]["artifacts"]] == [
        "windows-chocolatey",
        "windows-sysprep",
    ]
    assert content["record"]["generalized"] is True


def test_custom_image_survives_deleting_the_upload(
    dtl: DevTestLabsClient, controls: Controls, blob_service: BlobServiceClient
) -> None:
    url = _upload(dtl, TEAM_LAB, "kept.vhd", _fixed_vhd("kept"))
    uploaded = controls.content(blob_url=url)
    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "kept", _vhd_image(url), polling=False
    )
    blob_service.get_blob_client(f"{TEAM_LAB}-uploads", "kept.vhd").delete_blob()

    image = wait_for_image(dtl, TEAM_LAB, "kept")

    assert image.provisioning_state == "Succeeded"
    assert controls.content(resource_id=image.id)["sha256"] == uploaded["sha256"]


def test_custom_image_list_and_get(dtl: DevTestLabsClient) -> None:
    url = _upload(dtl, TEAM_LAB, "listed.vhd", _fixed_vhd("listed"))
    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "listed", _vhd_image(url), polling=False
    )

    created = dtl.custom_images.get(RESOURCE_GROUP, TEAM_LAB, "listed")
    images = list(dtl.custom_images.list(RESOURCE_GROUP, TEAM_LAB))

    assert created.provisioning_state == "Creating"
    assert [image.name for image in images] == ["listed"]
    assert images[0].vhd.image_name == url


def test_custom_image_delete(dtl: DevTestLabsClient, controls: Controls) -> None:
    url = _upload(dtl, TEAM_LAB, "doomed.vhd", _fixed_vhd("doomed"))
    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "doomed", _vhd_image(url), polling=False
    )
    image = wait_for_image(dtl, TEAM_LAB, "doomed")

    dtl.custom_images.begin_delete(RESOURCE_GROUP, TEAM_LAB, "doomed", polling=False)
    wait_until_gone(lambda: dtl.custom_images.get(RESOURCE_GROUP, TEAM_LAB, "doomed"))

    assert (
        controls.call("GET", "/content", params={"resource_id": image.id}).status_code
        == 404
    )


def test_custom_image_from_other_labs_storage_is_rejected(
    dtl: DevTestLabsClient,
) -> None:
    url = _upload(dtl, "dtl-team-qa", "elsewhere.vhd", _fixed_vhd("elsewhere"))

    with pytest.raises(HttpResponseError) as raised:
        dtl.custom_images.begin_create_or_update(
            RESOURCE_GROUP, TEAM_LAB, "elsewhere", _vhd_image(url), polling=False
        )

    assert raised.value.status_code == 400
    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidStorageAccountForLab"


def test_custom_image_from_foreign_url_is_rejected(dtl: DevTestLabsClient) -> None:
    url = "https://contoso.blob.core.windows.net/uploads/image.vhd"

    with pytest.raises(HttpResponseError) as raised:
        dtl.custom_images.begin_create_or_update(
            RESOURCE_GROUP, TEAM_LAB, "foreign", _vhd_image(url), polling=False
        )

    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidStorageAccountForLab"


def test_custom_image_from_missing_blob_is_rejected(dtl: DevTestLabsClient) -> None:
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, TEAM_LAB, blob_name="absent.vhd"
    ).upload_uri

    with pytest.raises(HttpResponseError) as raised:
        dtl.custom_images.begin_create_or_update(
            RESOURCE_GROUP,
            TEAM_LAB,
            "absent",
            _vhd_image(upload_uri.split("?")[0]),
            polling=False,
        )

    assert raised.value.status_code == 400
    assert "does not exist" in str(raised.value)


def test_custom_image_from_invalid_vhd_fails(dtl: DevTestLabsClient) -> None:
    url = _upload(dtl, TEAM_LAB, "garbage.vhd", b"not a vhd".ljust(4096, b"x"))
    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "garbage", _vhd_image(url), polling=False
    )

    image = wait_for_image(dtl, TEAM_LAB, "garbage")

    assert image.provisioning_state == "Failed"


def test_custom_image_failure_fault(dtl: DevTestLabsClient, controls: Controls) -> None:
    controls.add_fault(
        kind="custom_image_failure",
        name="unlucky",
        count=1,
        message="copy to managed image failed",
    )
    url = _upload(dtl, TEAM_LAB, "unlucky.vhd", _fixed_vhd("unlucky"))
    poller = dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "unlucky", _vhd_image(url)
    )

    with pytest.raises(HttpResponseError) as raised:
        poller.result()

    assert "copy to managed image failed" in str(raised.value)
    assert (
        dtl.custom_images.get(RESOURCE_GROUP, TEAM_LAB, "unlucky").provisioning_state
        == "Failed"
    )


def test_custom_image_get_missing_raises_not_found(dtl: DevTestLabsClient) -> None:
    with pytest.raises(ResourceNotFoundError):
        dtl.custom_images.get(RESOURCE_GROUP, TEAM_LAB, "never-created")


def test_upload_uri_is_scoped_to_one_blob(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, blob_service: BlobServiceClient
) -> None:
    account = dtl.labs.get(RESOURCE_GROUP, TEAM_LAB).default_storage_account
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, TEAM_LAB, blob_name="scoped.vhd"
    ).upload_uri
    other = upload_uri.replace("/scoped.vhd?", "/other.vhd?")

    BlobClient.from_blob_url(upload_uri).upload_blob(b"ok", overwrite=True)
    with pytest.raises(HttpResponseError) as raised:
        BlobClient.from_blob_url(other).upload_blob(b"no", overwrite=True)
    stored = blob_service.get_blob_client(f"{TEAM_LAB}-uploads", "scoped.vhd")

    assert raised.value.status_code == 403
    assert upload_uri.startswith(
        f"{sdk_env.arm_endpoint}/{account.rsplit('/', 1)[-1]}/uploads/scoped.vhd?"
    )
    assert "sp=rcw" in upload_uri
    assert stored.download_blob().readall() == b"ok"


def test_upload_uri_copy_failure_fault(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.add_fault(kind="blob_copy_failure", name="broken.vhd", count=1)
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, TEAM_LAB, blob_name="broken.vhd"
    ).upload_uri

    with pytest.raises(HttpResponseError) as raised:
        BlobClient.from_blob_url(upload_uri).upload_blob(b"late", overwrite=True)

    assert raised.value.status_code == 403


def test_content_of_unknown_blob_url_is_rejected(controls: Controls) -> None:
    response = controls.call(
        "GET", "/content", params={"blob_url": "https://example.invalid/c/b.vhd"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidControlRequest"


def test_custom_image_from_block_blob_fails(dtl: DevTestLabsClient) -> None:
    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, TEAM_LAB, blob_name="block.vhd"
    ).upload_uri
    BlobClient.from_blob_url(upload_uri).upload_blob(
        _fixed_vhd("block"), overwrite=True
    )
    url = upload_uri.split("?", 1)[0]
    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, TEAM_LAB, "block", _vhd_image(url), polling=False
    )

    image = wait_for_image(dtl, TEAM_LAB, "block")

    assert image.provisioning_state == "Failed"
