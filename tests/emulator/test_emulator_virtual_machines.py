"""Lab VMs through the real DevTestLabsClient: lifecycle, artifacts, validation."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.devtestlabs import DevTestLabsClient
from emulator_testing import (
    FACTORY_LAB,
    LINUX_IMAGE,
    RESOURCE_GROUP,
    Controls,
    RunningEmulator,
    artifact,
    capture_image,
    lab_vm,
    wait_for,
    wait_for_vm,
    wait_until_gone,
)

pytestmark = pytest.mark.integration

EXPAND = "properties($expand=artifacts,computeVm)"


def _create(
    dtl: DevTestLabsClient, name: str, body: object, lab: str = FACTORY_LAB
) -> None:
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, lab, name, body, polling=False
    )


def _error_code(error: HttpResponseError) -> str | None:
    return None if error.error is None else error.error.code


def test_vm_create_returns_201_with_async_operation(
    sdk_env: RunningEmulator, arm: requests.Session
) -> None:
    url = (
        f"{sdk_env.arm_endpoint}/subscriptions/{sdk_env.subscription_id}/resourceGroups/"
        f"{RESOURCE_GROUP}/providers/Microsoft.DevTestLab/labs/{FACTORY_LAB}/virtualmachines/"
        "raw-vm?api-version=2018-09-15"
    )
    body = {
        "location": "westeurope",
        "properties": {
            "size": "Standard_B2s",
            "userName": "factoryadmin",
            "password": "Emulat0r-Passw0rd!",
            "galleryImageReference": {
                "publisher": "Canonical",
                "offer": "ubuntu",
                "sku": "22_04-lts",
                "osType": "Linux",
                "version": "latest",
            },
        },
    }

    response = arm.put(url, json=body, timeout=30)

    assert response.status_code == 201
    assert response.json()["properties"]["provisioningState"] == "Creating"
    assert (
        "/providers/Microsoft.DevTestLab/locations/westeurope/operations/"
        in response.headers["Azure-AsyncOperation"]
    )
    assert int(response.headers["Retry-After"]) >= 1
    assert "x-ms-ratelimit-remaining-subscription-writes" in response.headers


def test_vm_provisions_then_applies_artifacts_in_order(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator
) -> None:
    artifacts = [
        artifact(
            sdk_env.subscription_id, FACTORY_LAB, "windows-chocolatey", packages="git"
        ),
        artifact(sdk_env.subscription_id, FACTORY_LAB, "windows-7zip"),
    ]
    _create(dtl, "build-order", lab_vm(artifacts=artifacts))
    seen: list[tuple[str, ...]] = []

    def record_until_done() -> object:
        vm = dtl.virtual_machines.get(
            RESOURCE_GROUP, FACTORY_LAB, "build-order", expand=EXPAND
        )
        statuses = tuple(item.status for item in vm.artifacts)
        if not seen or seen[-1] != statuses:
            seen.append(statuses)
        return vm if vm.provisioning_state != "Creating" else None

    vm = wait_for(record_until_done, interval=0.005)

    assert seen[0] == ("Pending", "Pending")
    assert ("Installing", "Pending") in seen
    assert seen[-1] == ("Succeeded", "Succeeded")
    assert vm.provisioning_state == "Succeeded"
    assert vm.artifact_deployment_status.artifacts_applied == 2
    assert vm.artifact_deployment_status.total_artifacts == 2
    assert vm.last_known_power_state == "Running"


def test_vm_generalize_leaves_vm_deallocated(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator
) -> None:
    artifacts = [artifact(sdk_env.subscription_id, FACTORY_LAB, "linux-deprovision")]
    _create(dtl, "build-linux", lab_vm(image=LINUX_IMAGE, artifacts=artifacts))

    vm = wait_for_vm(dtl, FACTORY_LAB, "build-linux")
    codes = [status.code for status in vm.compute_vm.statuses]

    assert vm.provisioning_state == "Succeeded"
    assert vm.last_known_power_state == "Stopped"
    assert "PowerState/deallocated" in codes
    assert vm.compute_vm.os_type == "Linux"
    assert vm.compute_vm.vm_size == "Standard_D2s_v3"
    assert (
        "/providers/Microsoft.Compute/disks/build-linux_OsDisk_1_"
        in vm.compute_vm.os_disk_id
    )
    assert vm.compute_vm.data_disk_ids == []
    assert vm.compute_id.endswith(
        "/providers/Microsoft.Compute/virtualMachines/build-linux"
    )


def test_vm_list_shows_image_date_and_tags(dtl: DevTestLabsClient) -> None:
    _create(
        dtl,
        "build-list",
        lab_vm(tags={"factory-image": "win2022", "factory-run": "r1"}),
    )

    vms = list(dtl.virtual_machines.list(RESOURCE_GROUP, FACTORY_LAB))

    assert [vm.name for vm in vms] == ["build-list"]
    assert vms[0].gallery_image_reference.offer == "WindowsServer"
    assert vms[0].created_date is not None
    assert vms[0].tags == {"factory-image": "win2022", "factory-run": "r1"}


def test_vm_create_with_polling_waits_for_artifacts(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator
) -> None:
    artifacts = [artifact(sdk_env.subscription_id, FACTORY_LAB, "windows-sysprep")]

    vm = dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "build-poll", lab_vm(artifacts=artifacts)
    ).result()

    assert vm.provisioning_state == "Succeeded"
    assert vm.last_known_power_state == "Stopped"


def test_vm_put_while_creating_is_conflict(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.set_time_scale(1.0)
    _create(dtl, "build-busy", lab_vm())

    with pytest.raises(ResourceExistsError) as raised:
        _create(dtl, "build-busy", lab_vm())

    assert _error_code(raised.value) == "Conflict"
    assert "'Creating'" in str(raised.value)


def test_vm_repeat_put_after_success_updates_tags(dtl: DevTestLabsClient) -> None:
    _create(dtl, "build-again", lab_vm(tags={"a": "1"}))
    wait_for_vm(dtl, FACTORY_LAB, "build-again")

    _create(dtl, "build-again", lab_vm(tags={"a": "2"}))

    assert dtl.virtual_machines.get(
        RESOURCE_GROUP, FACTORY_LAB, "build-again"
    ).tags == {"a": "2"}


def test_vm_delete_removes_vm_and_disk(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    _create(dtl, "build-gone", lab_vm())
    vm = wait_for_vm(dtl, FACTORY_LAB, "build-gone")

    dtl.virtual_machines.begin_delete(
        RESOURCE_GROUP, FACTORY_LAB, "build-gone", polling=False
    )
    deleting = dtl.virtual_machines.get(RESOURCE_GROUP, FACTORY_LAB, "build-gone")
    wait_until_gone(
        lambda: dtl.virtual_machines.get(RESOURCE_GROUP, FACTORY_LAB, "build-gone")
    )

    assert deleting.provisioning_state == "Deleting"
    response = controls.call(
        "GET", "/content", params={"resource_id": vm.compute_vm.os_disk_id}
    )
    assert response.status_code == 404


def test_vm_delete_of_missing_vm_succeeds(dtl: DevTestLabsClient) -> None:
    dtl.virtual_machines.begin_delete(
        RESOURCE_GROUP, FACTORY_LAB, "never-created"
    ).result()


def test_vm_get_of_missing_vm_raises_not_found(dtl: DevTestLabsClient) -> None:
    with pytest.raises(ResourceNotFoundError) as raised:
        dtl.virtual_machines.get(RESOURCE_GROUP, FACTORY_LAB, "never-created")

    assert _error_code(raised.value) == "ResourceNotFound"


def test_vm_artifact_failure_fails_vm(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, controls: Controls
) -> None:
    controls.add_fault(
        kind="artifact_failure",
        artifact="windows-chocolatey",
        count=1,
        message="choco exited 1603",
    )
    artifacts = [
        artifact(sdk_env.subscription_id, FACTORY_LAB, "windows-7zip"),
        artifact(
            sdk_env.subscription_id, FACTORY_LAB, "windows-chocolatey", packages="git"
        ),
        artifact(sdk_env.subscription_id, FACTORY_LAB, "windows-sysprep"),
    ]
    _create(dtl, "build-fail", lab_vm(artifacts=artifacts))

    vm = wait_for_vm(dtl, FACTORY_LAB, "build-fail")

    assert vm.provisioning_state == "Failed"
    assert [item.status for item in vm.artifacts] == ["Succeeded", "Failed", "Skipped"]
    assert "choco exited 1603" in vm.artifacts[1].deployment_status_message
    assert vm.artifact_deployment_status.deployment_status == "Failed"
    assert vm.last_known_power_state == "Running"


def test_vm_artifact_failure_fails_operation(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, controls: Controls
) -> None:
    controls.add_fault(kind="artifact_failure", artifact="windows-7zip", count=1)
    artifacts = [artifact(sdk_env.subscription_id, FACTORY_LAB, "windows-7zip")]
    poller = dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "build-opfail", lab_vm(artifacts=artifacts)
    )

    with pytest.raises(HttpResponseError) as raised:
        poller.result()

    assert "7-Zip" in str(raised.value)


def test_vm_from_custom_image_records_parent(
    dtl: DevTestLabsClient,
    compute: ComputeManagementClient,
    sdk_env: RunningEmulator,
    controls: Controls,
) -> None:
    image = capture_image(dtl, compute, sdk_env, FACTORY_LAB, "base-image")
    _create(dtl, "from-image", lab_vm(custom_image_id=image.id))

    vm = wait_for_vm(dtl, FACTORY_LAB, "from-image")
    record = controls.content(resource_id=vm.compute_vm.os_disk_id)["record"]

    assert vm.custom_image_id == image.id
    assert record["source"]["customImage"]["id"] == image.id
    assert (
        record["source"]["customImage"]["record"]["artifacts"][0]["name"]
        == "windows-chocolatey"
    )


@pytest.mark.parametrize(
    ("name", "changes", "code", "fragment"),
    [
        ("name-longer-than-15", {}, "InvalidParameter", "15 characters"),
        ("bad_name", {}, "InvalidParameter", "Windows computer name"),
        (
            "sizebad",
            {"size": "Standard_Imaginary"},
            "InvalidParameter",
            "Standard_Imaginary",
        ),
        ("elsewhere", {"location": "eastus"}, "LocationMismatch", "westeurope"),
    ],
)
def test_vm_invalid_request_is_rejected(
    dtl: DevTestLabsClient, name: str, changes: dict[str, str], code: str, fragment: str
) -> None:
    with pytest.raises(HttpResponseError) as raised:
        _create(dtl, name, lab_vm(**changes))  # type: ignore[arg-type]

    assert raised.value.status_code == 400
    assert _error_code(raised.value) == code
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("artifact_name", "parameters", "code", "fragment"),
    [
        ("windows-no-such-thing", {}, "ArtifactNotFound", "windows-no-such-thing"),
        (
            "windows-chocolatey",
            {},
            "InvalidArtifactParameter",
            "requires the parameter 'packages'",
        ),
        (
            "windows-chocolatey",
            {"packages": "git", "ignoreChecksums": "maybe"},
            "InvalidArtifactParameter",
            "true or false",
        ),
        (
            "windows-chocolatey",
            {"packages": "git", "colour": "blue"},
            "InvalidArtifactParameter",
            "no parameter 'colour'",
        ),
        (
            "linux-apt-package",
            {"packages": "git"},
            "ArtifactOsTypeMismatch",
            "targets Linux",
        ),
        (
            "windows-test-paramtypes",
            {"intParam": "seven"},
            "InvalidArtifactParameter",
            "an integer",
        ),
    ],
)
def test_vm_invalid_artifact_is_rejected(
    dtl: DevTestLabsClient,
    sdk_env: RunningEmulator,
    artifact_name: str,
    parameters: dict[str, str],
    code: str,
    fragment: str,
) -> None:
    body = lab_vm(
        artifacts=[
            artifact(sdk_env.subscription_id, FACTORY_LAB, artifact_name, **parameters)
        ]
    )

    with pytest.raises(HttpResponseError) as raised:
        _create(dtl, "bad-artifact", body)

    assert raised.value.status_code == 400
    assert _error_code(raised.value) == code
    assert fragment in str(raised.value)


def test_vm_artifact_of_other_lab_is_rejected(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator
) -> None:
    body = lab_vm(
        artifacts=[artifact(sdk_env.subscription_id, "dtl-team-qa", "windows-7zip")]
    )

    with pytest.raises(HttpResponseError) as raised:
        _create(dtl, "other-lab", body)

    assert _error_code(raised.value) == "ArtifactNotFound"


def test_vm_in_missing_lab_is_forbidden(
    dtl: DevTestLabsClient,
) -> None:
    # ARM checks roles before the provider looks for the lab, and the default
    # identity has roles on the four labs only.
    with pytest.raises(HttpResponseError) as raised:
        _create(dtl, "nolab", lab_vm(), lab="dtl-no-such-lab")

    assert raised.value.status_code == 403
    assert _error_code(raised.value) == "AuthorizationFailed"


def test_vm_in_missing_lab_with_group_role(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, controls: Controls
) -> None:
    group = f"/subscriptions/{sdk_env.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
    controls.set_role_assignments(
        [{"identity": "system", "role": "Contributor", "scope": group}]
    )

    with pytest.raises(ResourceNotFoundError) as raised:
        _create(dtl, "nolab", lab_vm(), lab="dtl-no-such-lab")

    assert _error_code(raised.value) == "ResourceNotFound"


def test_vm_stall_fault_keeps_vm_creating(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.add_fault(kind="stall", name="build-stuck", count=1)
    _create(dtl, "build-stuck", lab_vm())
    _create(dtl, "build-normal", lab_vm())

    wait_for_vm(dtl, FACTORY_LAB, "build-normal")
    vm = dtl.virtual_machines.get(RESOURCE_GROUP, FACTORY_LAB, "build-stuck")

    assert vm.provisioning_state == "Creating"
    dtl.virtual_machines.begin_delete(
        RESOURCE_GROUP, FACTORY_LAB, "build-stuck", polling=False
    )
    wait_until_gone(
        lambda: dtl.virtual_machines.get(RESOURCE_GROUP, FACTORY_LAB, "build-stuck")
    )
