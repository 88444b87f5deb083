"""Managed OS disks through the real ComputeManagementClient: access LROs and content."""

from __future__ import annotations

import contextlib

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.compute.models import GrantAccessData
from azure.mgmt.devtestlabs import DevTestLabsClient
from azure.storage.blob import BlobClient, BlobServiceClient
from emulator_testing import (
    FACTORY_LAB,
    RESOURCE_GROUP,
    Controls,
    RunningEmulator,
    build_generalized_vm,
    disk_location,
    lab_vm,
    wait_for_vm,
)

from emulator import vhd

pytestmark = pytest.mark.integration

READ_ACCESS = GrantAccessData(access="Read", duration_in_seconds=300)


def test_grant_access_returns_read_sas_to_page_blob(
    dtl: DevTestLabsClient, compute: ComputeManagementClient, sdk_env: RunningEmulator
) -> None:
    vm = build_generalized_vm(dtl, sdk_env.subscription_id, FACTORY_LAB, "disk-read")
    group, name = disk_location(vm.compute_vm.os_disk_id)

    access = compute.disks.begin_grant_access(group, name, READ_ACCESS).result()
    blob = BlobClient.from_blob_url(access.access_sas)
    properties = blob.get_blob_properties()
    footer = blob.download_blob(
        offset=properties.size - vhd.SECTOR_BYTES, length=vhd.SECTOR_BYTES
    ).readall()
    record = vhd.decode_record(
        blob.download_blob(offset=0, length=vhd.HEADER_MAX_BYTES).readall()
    )

    assert properties.blob_type == "PageBlob"
    assert properties.size == vhd.DISK_BYTES
    assert vhd.parse_footer(footer).current_size == vhd.DATA_BYTES
    assert record is not None
    assert record["source"]["galleryImage"]["sku"] == "2022-datacenter-azure-edition"
    assert record["artifacts"][0] == {
        "name": "windows-chocolatey",
        "artifactId": vm.artifacts[0].artifact_id,
        "parameters": {"packages": "git"},
    }
    assert "sp=r&" in access.access_sas or access.access_sas.endswith("sp=r")


def test_grant_access_sas_cannot_write(
    dtl: DevTestLabsClient, compute: ComputeManagementClient, sdk_env: RunningEmulator
) -> None:
    vm = build_generalized_vm(dtl, sdk_env.subscription_id, FACTORY_LAB, "disk-ro")
    access = compute.disks.begin_grant_access(
        *disk_location(vm.compute_vm.os_disk_id), READ_ACCESS
    ).result()

    with pytest.raises(HttpResponseError) as raised:
        BlobClient.from_blob_url(access.access_sas).upload_page(
            b"\0" * 512, offset=0, length=512
        )

    assert raised.value.status_code == 403


def test_grant_access_is_compute_lro(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, arm: requests.Session
) -> None:
    vm = build_generalized_vm(dtl, sdk_env.subscription_id, FACTORY_LAB, "disk-lro")
    url = f"{sdk_env.arm_endpoint}{vm.compute_vm.os_disk_id}/beginGetAccess?api-version=2026-03-02"

    started = arm.post(
        url, json={"access": "Read", "durationInSeconds": 60}, timeout=30
    )
    status_url = started.headers["Azure-AsyncOperation"]
    location = started.headers["Location"]
    first = arm.get(location, timeout=30)

    assert started.status_code == 202
    assert "/providers/Microsoft.Compute/locations/westeurope/operations/" in status_url
    assert "monitor=true" in location
    assert first.status_code in (200, 202)


def test_grant_access_on_running_vm_is_rejected(
    dtl: DevTestLabsClient, compute: ComputeManagementClient
) -> None:
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "disk-busy", lab_vm(), polling=False
    )
    vm = wait_for_vm(dtl, FACTORY_LAB, "disk-busy")

    with pytest.raises(ResourceExistsError) as raised:
        compute.disks.begin_grant_access(
            *disk_location(vm.compute_vm.os_disk_id), READ_ACCESS
        )

    assert raised.value.status_code == 409
    assert "running" in str(raised.value)


def test_disk_get_reports_state(
    dtl: DevTestLabsClient, compute: ComputeManagementClient, sdk_env: RunningEmulator
) -> None:
    vm = build_generalized_vm(dtl, sdk_env.subscription_id, FACTORY_LAB, "disk-state")
    group, name = disk_location(vm.compute_vm.os_disk_id)

    before = compute.disks.get(group, name)
    compute.disks.begin_grant_access(group, name, READ_ACCESS).result()
    granted = compute.disks.get(group, name)
    compute.disks.begin_revoke_access(group, name).result()
    revoked = compute.disks.get(group, name)

    assert before.properties.disk_state == "Reserved"
    assert granted.properties.disk_state == "ActiveSAS"
    assert revoked.properties.disk_state == "Reserved"
    assert before.managed_by.endswith("/virtualMachines/disk-state")
    assert before.properties.os_type == "Windows"


def test_disk_copy_failure_fault_hands_out_expired_sas(
    dtl: DevTestLabsClient,
    compute: ComputeManagementClient,
    sdk_env: RunningEmulator,
    controls: Controls,
    blob_service: BlobServiceClient,
) -> None:
    vm = build_generalized_vm(dtl, sdk_env.subscription_id, FACTORY_LAB, "disk-expired")
    group, name = disk_location(vm.compute_vm.os_disk_id)
    controls.add_fault(kind="blob_copy_failure", name=name, count=1)

    access = compute.disks.begin_grant_access(group, name, READ_ACCESS).result()
    with contextlib.suppress(ResourceExistsError):
        blob_service.create_container("copy-target")
    target = blob_service.get_blob_client("copy-target", "copy.vhd")

    with pytest.raises(HttpResponseError) as raised:
        target.start_copy_from_url(access.access_sas)

    assert raised.value.status_code == 403
    assert controls.faults()[0]["injected"] == 1


def test_disk_outside_lab_groups_is_forbidden(
    sdk_env: RunningEmulator, arm: requests.Session
) -> None:
    # The default identity has roles on the labs only, which cover the
    # compute resource groups of their VMs and nothing else.
    url = (
        f"{sdk_env.arm_endpoint}/subscriptions/{sdk_env.subscription_id}/resourceGroups/rg-nothing"
        "/providers/Microsoft.Compute/disks/d1?api-version=2026-03-02"
    )

    response = arm.get(url, timeout=30)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "AuthorizationFailed"


def test_disk_in_unknown_group_is_not_found(
    sdk_env: RunningEmulator, arm: requests.Session, controls: Controls
) -> None:
    subscription = f"/subscriptions/{sdk_env.subscription_id}"
    controls.set_role_assignments(
        [{"identity": "system", "role": "Reader", "scope": subscription}]
    )
    url = f"{sdk_env.arm_endpoint}{subscription}/resourceGroups/rg-nothing/providers/Microsoft.Compute/disks/d1"

    response = arm.get(f"{url}?api-version=2026-03-02", timeout=30)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ResourceGroupNotFound"
