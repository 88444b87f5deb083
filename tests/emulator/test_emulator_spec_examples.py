"""Emulated responses against the REST API specification examples.

Each emulated response must contain every key of its example, recursively
and, for lists, in the first item. The keys listed with a reason in
``NOT_RENDERED`` are the exceptions. Each DevTest Labs response may only
contain keys that the SDK model of that response defines, so the emulator
invents no field. The examples are files of Azure/azure-rest-api-specs for
Microsoft.DevTestLab 2018-09-15 and Microsoft.Compute DiskRP 2025-01-02,
kept in spec_examples/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.devtestlabs import DevTestLabsClient
from azure.mgmt.devtestlabs import models as dtl_models
from azure.storage.blob import BlobClient
from emulator_testing import (
    FACTORY_LAB,
    RESOURCE_GROUP,
    TEAM_LAB,
    Controls,
    RunningEmulator,
    artifact,
    build_generalized_vm,
    capture_image,
    lab_vm,
    load_spec_example,
    wait_for_vm,
)

from emulator import vhd

pytestmark = pytest.mark.integration

API = "api-version=2018-09-15"
# Example keys that the emulator does not render, and why.
NOT_RENDERED: dict[str, dict[str, str]] = {
    "CustomImages": {
        "properties.vm": "the example image comes from a lab VM; emulated images come from a VHD "
        "and render properties.vhd instead",
    },
    "ArtifactSources": {
        "properties.securityToken": "a secret, which the emulator never returns",
    },
    "Disk": {
        "properties.purchasePlan": "only for images with a marketplace plan",
        "properties.supportedCapabilities": "not set for disks of lab VMs",
        "properties.supportsHibernation": "not set for disks of lab VMs",
        "properties.securityProfile": "only for trusted launch and confidential VMs",
        "properties.encryptionSettingsCollection": "only with Azure Disk Encryption",
    },
}
# Maps whose keys are data, not structure.
FREE_FORM = {"tags", "properties.parameters"}


def _free_form(path: str) -> bool:
    return any(path == item or path.endswith(f".{item}") for item in FREE_FORM)


def _walk_missing(example: Any, actual: Any, path: str) -> Iterator[str]:
    if _free_form(path):
        return
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            yield f"{path or '.'} (expected an object)"
            return
        for key, value in example.items():
            child = f"{path}.{key}" if path else key
            if key not in actual:
                yield child
            else:
                yield from _walk_missing(value, actual[key], child)
    elif isinstance(example, list) and example:
        if not isinstance(actual, list):
            yield f"{path} (expected a list)"
        elif actual:
            yield from _walk_missing(example[0], actual[0], path)


def missing_keys(example: Any, actual: Any, family: str) -> list[str]:
    skipped = NOT_RENDERED.get(family, {})
    return [
        key
        for key in _walk_missing(example, actual, "")
        if key.removeprefix("value.") not in skipped
    ]


def _model_tree(model: type) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for spec in model._attribute_map.values():  # type: ignore[attr-defined]
        *parents, leaf = spec["key"].split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = _type_tree(spec["type"])
    return tree


def _type_tree(type_name: str) -> Any:
    if type_name.startswith("["):
        return _type_tree(type_name[1:-1])
    if type_name.startswith("{") or type_name == "object":
        return "free"
    model = getattr(dtl_models, type_name, None)
    if isinstance(model, type) and hasattr(model, "_attribute_map"):
        return _model_tree(model)
    return None


def unknown_keys(actual: Any, tree: Any, path: str = "") -> list[str]:
    """Return the keys of actual that the SDK model tree does not define."""
    if tree == "free" or tree is None:
        return []
    if isinstance(actual, list):
        return [key for item in actual for key in unknown_keys(item, tree, path)]
    if not isinstance(actual, dict):
        return []
    found = []
    for key, value in actual.items():
        child = f"{path}.{key}" if path else key
        if key not in tree:
            found.append(child)
        else:
            found += unknown_keys(value, tree[key], child)
    return found


@pytest.fixture
def urls(sdk_env: RunningEmulator) -> dict[str, str]:
    group = f"{sdk_env.arm_endpoint}/subscriptions/{sdk_env.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
    labs = f"{group}/providers/Microsoft.DevTestLab/labs"
    return {
        "group": group,
        "labs": labs,
        "factory": f"{labs}/{FACTORY_LAB}",
        "team": f"{labs}/{TEAM_LAB}",
    }


def _check(
    name: str, status: str, actual: Any, family: str, model: type | None
) -> None:
    example = load_spec_example(name)["responses"][status]["body"]

    assert missing_keys(example, actual, family) == []
    if model is not None:
        assert unknown_keys(actual, _model_tree(model)) == []


def test_spec_labs_get(arm: requests.Session, urls: dict[str, str]) -> None:
    body = arm.get(f"{urls['factory']}?{API}", timeout=30).json()

    _check("Labs_Get", "200", body, "Labs", dtl_models.Lab)


def test_spec_labs_list(arm: requests.Session, urls: dict[str, str]) -> None:
    body = arm.get(f"{urls['labs']}?{API}", timeout=30).json()

    _check("Labs_ListByResourceGroup", "200", body, "Labs", None)
    assert unknown_keys(body["value"], _model_tree(dtl_models.Lab)) == []


def test_spec_labs_list_by_subscription(
    arm: requests.Session, urls: dict[str, str], sdk_env: RunningEmulator
) -> None:
    url = f"{sdk_env.arm_endpoint}/subscriptions/{sdk_env.subscription_id}/providers/Microsoft.DevTestLab/labs"

    body = arm.get(f"{url}?{API}", timeout=30).json()

    _check("Labs_ListBySubscription", "200", body, "Labs", None)
    assert len(body["value"]) == 4


def test_spec_labs_generate_upload_uri(
    arm: requests.Session, urls: dict[str, str]
) -> None:
    response = arm.post(
        f"{urls['team']}/generateUploadUri?{API}",
        json={"blobName": "spec.vhd"},
        timeout=30,
    )

    assert response.status_code == 200
    _check(
        "Labs_GenerateUploadUri",
        "200",
        response.json(),
        "Labs",
        dtl_models.GenerateUploadUriResponse,
    )
    assert "sr=b" in response.json()["uploadUri"]


def test_spec_virtual_machines_create(
    arm: requests.Session, urls: dict[str, str], sdk_env: RunningEmulator
) -> None:
    body = lab_vm().serialize()
    body["properties"]["password"] = "Emulat0r-Passw0rd!"

    response = arm.put(
        f"{urls['factory']}/virtualmachines/spec-create?{API}", json=body, timeout=30
    )

    assert response.status_code == 201
    _check(
        "VirtualMachines_CreateOrUpdate",
        "201",
        response.json(),
        "VirtualMachines",
        dtl_models.LabVirtualMachine,
    )
    assert "password" not in response.json()["properties"]


def test_spec_virtual_machines_get_and_list(
    dtl: DevTestLabsClient,
    arm: requests.Session,
    urls: dict[str, str],
    sdk_env: RunningEmulator,
) -> None:
    artifacts = [artifact(sdk_env.subscription_id, FACTORY_LAB, "windows-7zip")]
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP,
        FACTORY_LAB,
        "spec-get",
        lab_vm(artifacts=artifacts),
        polling=False,
    )
    wait_for_vm(dtl, FACTORY_LAB, "spec-get")

    plain = arm.get(
        f"{urls['factory']}/virtualmachines/spec-get?{API}", timeout=30
    ).json()
    expanded = arm.get(
        f"{urls['factory']}/virtualmachines/spec-get?{API}&$expand=properties($expand=artifacts,computeVm)",
        timeout=30,
    ).json()
    listed = arm.get(f"{urls['factory']}/virtualmachines?{API}", timeout=30).json()

    _check(
        "VirtualMachines_Get",
        "200",
        plain,
        "VirtualMachines",
        dtl_models.LabVirtualMachine,
    )
    _check(
        "VirtualMachines_Get",
        "200",
        expanded,
        "VirtualMachines",
        dtl_models.LabVirtualMachine,
    )
    _check("VirtualMachines_List", "200", listed, "VirtualMachines", None)
    assert "artifacts" not in plain["properties"]
    assert "computeVm" in expanded["properties"]


def test_spec_virtual_machines_delete(
    dtl: DevTestLabsClient, arm: requests.Session, urls: dict[str, str]
) -> None:
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "spec-del", lab_vm(), polling=False
    )

    response = arm.delete(
        f"{urls['factory']}/virtualmachines/spec-del?{API}", timeout=30
    )
    again = arm.delete(f"{urls['factory']}/virtualmachines/never?{API}", timeout=30)

    assert response.status_code == 202
    assert "location" in {
        name.lower()
        for name in load_spec_example("VirtualMachines_Delete")["responses"]["202"][
            "headers"
        ]
    }
    assert "/operationResults/" in response.headers["Location"]
    assert again.status_code == 204


def test_spec_custom_images(
    dtl: DevTestLabsClient,
    compute: ComputeManagementClient,
    arm: requests.Session,
    urls: dict[str, str],
    sdk_env: RunningEmulator,
) -> None:
    capture_image(dtl, compute, sdk_env, TEAM_LAB, "spec-image")

    got = arm.get(f"{urls['team']}/customimages/spec-image?{API}", timeout=30).json()
    listed = arm.get(f"{urls['team']}/customimages?{API}", timeout=30).json()
    deleted = arm.delete(f"{urls['team']}/customimages/spec-image?{API}", timeout=30)

    _check("CustomImages_Get", "200", got, "CustomImages", dtl_models.CustomImage)
    _check(
        "CustomImages_CreateOrUpdate",
        "200",
        got,
        "CustomImages",
        dtl_models.CustomImage,
    )
    _check("CustomImages_List", "200", listed, "CustomImages", None)
    assert deleted.status_code == 202
    assert "Location" in deleted.headers


def test_spec_custom_images_create(arm: requests.Session, urls: dict[str, str]) -> None:
    upload = arm.post(
        f"{urls['team']}/generateUploadUri?{API}",
        json={"blobName": "spec-new.vhd"},
        timeout=30,
    )
    data = vhd.build_disk({}, uuid.uuid4(), datetime.now(UTC))
    blob = BlobClient.from_blob_url(upload.json()["uploadUri"])
    blob.create_page_blob(len(data))
    blob.upload_page(data, offset=0, length=len(data))
    body = {
        "properties": {
            "vhd": {
                "imageName": blob.url.split("?")[0],
                "sysPrep": False,
                "osType": "Linux",
            },
            "description": "from the spec test",
        },
        "tags": {"tagName1": "tagValue1"},
    }

    response = arm.put(
        f"{urls['team']}/customimages/spec-new?{API}", json=body, timeout=30
    )

    assert response.status_code == 201
    assert "Azure-AsyncOperation" in response.headers
    _check(
        "CustomImages_CreateOrUpdate",
        "201",
        response.json(),
        "CustomImages",
        dtl_models.CustomImage,
    )


def test_spec_artifact_sources_and_artifacts(
    arm: requests.Session, urls: dict[str, str]
) -> None:
    sources = arm.get(f"{urls['factory']}/artifactsources?{API}", timeout=30).json()
    source = arm.get(
        f"{urls['factory']}/artifactsources/public%20repo?{API}", timeout=30
    ).json()
    artifacts = arm.get(
        f"{urls['factory']}/artifactsources/public%20repo/artifacts?{API}", timeout=30
    ).json()
    one = arm.get(
        f"{urls['factory']}/artifactsources/public%20repo/artifacts/windows-chocolatey?{API}",
        timeout=30,
    ).json()

    _check("ArtifactSources_List", "200", sources, "ArtifactSources", None)
    _check(
        "ArtifactSources_Get",
        "200",
        source,
        "ArtifactSources",
        dtl_models.ArtifactSource,
    )
    _check("Artifacts_List", "200", artifacts, "Artifacts", None)
    _check("Artifacts_Get", "200", one, "Artifacts", dtl_models.Artifact)
    assert len(artifacts["value"]) == 95
    assert one["properties"]["parameters"]["packages"]["type"] == "string"


def test_spec_operation_status(arm: requests.Session, urls: dict[str, str]) -> None:
    body = lab_vm().serialize()
    body["properties"]["password"] = "Emulat0r-Passw0rd!"
    started = arm.put(
        f"{urls['factory']}/virtualmachines/spec-op?{API}", json=body, timeout=30
    )

    status = arm.get(started.headers["Azure-AsyncOperation"], timeout=30)

    assert status.status_code in (200, 202)
    _check(
        "Operations_Get", "200", status.json(), "Operations", dtl_models.OperationResult
    )


def test_spec_disks(
    dtl: DevTestLabsClient,
    compute: ComputeManagementClient,
    arm: requests.Session,
    sdk_env: RunningEmulator,
    controls: Controls,
) -> None:
    vm = build_generalized_vm(dtl, sdk_env.subscription_id, FACTORY_LAB, "spec-disk")
    disk_url = f"{sdk_env.arm_endpoint}{vm.compute_vm.os_disk_id}"

    got = arm.get(f"{disk_url}?api-version=2026-03-02", timeout=30).json()
    started = arm.post(
        f"{disk_url}/beginGetAccess?api-version=2026-03-02",
        json={"access": "Read", "durationInSeconds": 300},
        timeout=30,
    )
    controls.set_time_scale(0.00001)
    final = arm.get(started.headers["Location"], timeout=30)
    ended = arm.post(f"{disk_url}/endGetAccess?api-version=2026-03-02", timeout=30)

    _check("compute/Disk_Get", "200", got, "Disk", None)
    assert started.status_code == 202
    assert final.status_code == 200
    _check("compute/Disk_BeginGetAccess", "200", final.json(), "Disk", None)
    assert ended.status_code == 202
    assert "Location" in ended.headers
