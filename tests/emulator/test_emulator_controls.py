"""Test controls: request log, time scale, health, reset, role assignments."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.devtestlabs import DevTestLabsClient
from emulator_testing import (
    FACTORY_LAB,
    RESOURCE_GROUP,
    TEAM_LAB,
    TEST_TIME_SCALE,
    Controls,
    RunningEmulator,
    lab_vm,
    wait_for_vm,
)

pytestmark = pytest.mark.integration

DEFAULT_PRINCIPAL = "3c9e1f4a-8d2b-4e6f-a1c7-5b0d9e2f8a61"


def _lab_scope(emulator: RunningEmulator, lab: str) -> str:
    return (
        f"/subscriptions/{emulator.subscription_id}/resourceGroups/{RESOURCE_GROUP}"
        f"/providers/Microsoft.DevTestLab/labs/{lab}"
    )


def test_request_log_entries_describe_requests(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    since = controls.last_seq()
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "logged", lab_vm(), polling=False
    )

    entries = [entry for entry in controls.requests(since) if entry["method"] == "PUT"]
    entry = entries[0]

    assert entry["path"].endswith("/virtualmachines/logged")
    assert entry["status"] == 201
    assert entry["operation_id"]
    assert entry["principal"] == DEFAULT_PRINCIPAL
    assert entry["start_unix"] <= entry["end_unix"]
    assert entry["start"].endswith("+00:00")
    assert entry["query"] == "api-version=2018-09-15"


def test_request_log_reads_incrementally(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    dtl.labs.get(RESOURCE_GROUP, FACTORY_LAB)
    first = controls.requests()
    dtl.labs.get(RESOURCE_GROUP, TEAM_LAB)
    newer = controls.requests(first[-1]["seq"])

    assert [entry["path"].rsplit("/", 1)[-1] for entry in newer] == [TEAM_LAB]
    assert all(entry["seq"] > first[-1]["seq"] for entry in newer)


def test_request_log_skips_controls(controls: Controls) -> None:
    since = controls.last_seq()
    controls.call("GET", "/health")

    assert controls.requests(since) == []


def test_request_log_records_operation_polls(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    since = controls.last_seq()
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "polled", lab_vm()
    ).result()

    entries = controls.requests(since)
    operation_id = next(
        entry["operation_id"] for entry in entries if entry["method"] == "PUT"
    )
    polls = [entry for entry in entries if "/operations/" in entry["path"]]

    assert operation_id
    assert polls
    assert all(entry["operation_id"] == operation_id for entry in polls)


def test_time_scale_control_changes_running_operations(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.set_time_scale(10.0)
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "slowpoke", lab_vm(), polling=False
    )

    controls.set_time_scale(TEST_TIME_SCALE)
    vm = wait_for_vm(dtl, FACTORY_LAB, "slowpoke", timeout=5)

    assert vm.provisioning_state == "Succeeded"
    assert controls.call("GET", "/time-scale").json() == {"time_scale": TEST_TIME_SCALE}


def test_time_scale_control_rejects_zero(controls: Controls) -> None:
    response = controls.call("PUT", "/time-scale", json={"time_scale": 0})

    assert response.status_code == 400


def test_health_counts_resources(controls: Controls) -> None:
    health = controls.call("GET", "/health").json()

    assert health["status"] == "ok"
    assert health["labs"] == 4
    assert health["virtual_machines"] == 0


def test_reset_clears_resources_faults_and_log(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, FACTORY_LAB, "to-reset", lab_vm(), polling=False
    )
    controls.add_fault(kind="slow", count=1)

    controls.reset()

    assert list(dtl.virtual_machines.list(RESOURCE_GROUP, FACTORY_LAB)) == []
    assert controls.faults() == []
    assert [entry["method"] for entry in controls.requests()] == ["GET"]


def test_unknown_control_is_404(controls: Controls) -> None:
    assert controls.call("GET", "/nothing-here").status_code == 404


def test_default_role_assignments(sdk_env: RunningEmulator, controls: Controls) -> None:
    assignments = controls.role_assignments()
    on_labs = [item for item in assignments if item["role"] == "Contributor"]
    on_storage = [
        item for item in assignments if item["role"] == "Storage Blob Data Contributor"
    ]

    assert {item["identity"] for item in assignments} == {"system"}
    assert len(on_labs) == 4
    assert len(on_storage) == 4
    assert len(assignments) == 8
    assert all("/Microsoft.Storage/storageAccounts/" in i["scope"] for i in on_storage)


def test_reader_cannot_generate_upload_uri(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, controls: Controls
) -> None:
    controls.set_role_assignments(
        [
            {
                "identity": "system",
                "role": "Reader",
                "scope": _lab_scope(sdk_env, TEAM_LAB),
            }
        ]
    )

    lab = dtl.labs.get(RESOURCE_GROUP, TEAM_LAB)
    with pytest.raises(HttpResponseError) as raised:
        dtl.labs.generate_upload_uri(RESOURCE_GROUP, TEAM_LAB, blob_name="denied.vhd")

    assert lab.name == TEAM_LAB
    assert raised.value.status_code == 403
    assert raised.value.error is not None
    assert raised.value.error.code == "AuthorizationFailed"
    assert "generateUploadUri/action" in str(raised.value)


def test_devtest_labs_user_cannot_create_vm(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, controls: Controls
) -> None:
    controls.set_role_assignments(
        [
            {
                "identity": "system",
                "role": "DevTest Labs User",
                "scope": _lab_scope(sdk_env, FACTORY_LAB),
            }
        ]
    )

    vms = list(dtl.virtual_machines.list(RESOURCE_GROUP, FACTORY_LAB))
    with pytest.raises(HttpResponseError) as raised:
        dtl.virtual_machines.begin_create_or_update(
            RESOURCE_GROUP, FACTORY_LAB, "denied", lab_vm(), polling=False
        )

    assert vms == []
    assert raised.value.error is not None
    assert raised.value.error.code == "AuthorizationFailed"


def test_lab_list_shows_readable_labs_only(
    dtl: DevTestLabsClient, sdk_env: RunningEmulator, controls: Controls
) -> None:
    controls.set_role_assignments(
        [
            {
                "identity": "system",
                "role": "Reader",
                "scope": _lab_scope(sdk_env, TEAM_LAB),
            }
        ]
    )

    labs = [lab.name for lab in dtl.labs.list_by_resource_group(RESOURCE_GROUP)]

    assert labs == [TEAM_LAB]


def test_role_assignment_control_rejects_unknown_role(
    sdk_env: RunningEmulator, controls: Controls
) -> None:
    response = controls.call(
        "PUT",
        "/role-assignments",
        json={
            "role_assignments": [
                {
                    "identity": "system",
                    "role": "Wizard",
                    "scope": _lab_scope(sdk_env, TEAM_LAB),
                }
            ]
        },
    )

    assert response.status_code == 400
    assert "Wizard" in response.json()["error"]["message"]
