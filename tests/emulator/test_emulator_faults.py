"""Injected faults, throttling and the request log that shows them."""

from __future__ import annotations

import time

import pytest
import requests
from azure.core.exceptions import ResourceExistsError
from azure.mgmt.devtestlabs import DevTestLabsClient
from emulator_testing import (
    FACTORY_LAB,
    RESOURCE_GROUP,
    Controls,
    RunningEmulator,
    lab_vm,
)

pytestmark = pytest.mark.integration

LAB_PATH = f"/providers/Microsoft.DevTestLab/labs/{FACTORY_LAB}"


def _lab_url(emulator: RunningEmulator) -> str:
    return (
        f"{emulator.arm_endpoint}/subscriptions/{emulator.subscription_id}/resourceGroups/"
        f"{RESOURCE_GROUP}{LAB_PATH}?api-version=2018-09-15"
    )


def _lab_requests(controls: Controls, since: int) -> list[dict[str, object]]:
    return [
        entry
        for entry in controls.requests(since)
        if str(entry["path"]).endswith(LAB_PATH)
    ]


def test_fault_500_is_retried_by_sdk_and_logged(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.add_fault(
        kind="error", status=500, method="GET", path=f"{LAB_PATH}$", count=1
    )
    since = controls.last_seq()

    lab = dtl.labs.get(RESOURCE_GROUP, FACTORY_LAB)
    entries = _lab_requests(controls, since)

    assert lab.name == FACTORY_LAB
    assert [entry["status"] for entry in entries] == [500, 200]
    assert entries[0]["fault"] == "error:500"
    assert entries[0]["error_code"] == "InternalServerError"
    assert entries[1]["fault"] is None


@pytest.mark.parametrize(
    ("status", "code"),
    [(429, "SubscriptionRequestsThrottled"), (503, "ServiceUnavailable")],
)
def test_fault_with_retry_after(
    sdk_env: RunningEmulator,
    arm: requests.Session,
    controls: Controls,
    status: int,
    code: str,
) -> None:
    controls.add_fault(kind="error", status=status, count=1, retry_after_seconds=30)

    response = arm.get(_lab_url(sdk_env), timeout=30)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.headers["Retry-After"] == "1"


def test_fault_drop_is_retried_by_sdk(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.add_fault(kind="drop", method="GET", path=f"{LAB_PATH}$", count=1)
    since = controls.last_seq()

    lab = dtl.labs.get(RESOURCE_GROUP, FACTORY_LAB)
    entries = _lab_requests(controls, since)

    assert lab.name == FACTORY_LAB
    assert [(entry["status"], entry["fault"]) for entry in entries] == [
        (None, "drop"),
        (200, None),
    ]


def test_fault_drop_after_handling_loses_the_response(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.set_time_scale(1.0)
    controls.add_fault(
        kind="drop",
        method="PUT",
        path="/virtualmachines/",
        after_handling=True,
        count=1,
    )

    # The VM was created although its response was lost, so the SDK's retry
    # of the PUT meets a VM in Creating, as it would in Azure.
    with pytest.raises(ResourceExistsError):
        dtl.virtual_machines.begin_create_or_update(
            RESOURCE_GROUP, FACTORY_LAB, "lost-reply", lab_vm(), polling=False
        )

    assert (
        dtl.virtual_machines.get(
            RESOURCE_GROUP, FACTORY_LAB, "lost-reply"
        ).provisioning_state
        == "Creating"
    )


def test_fault_slow_delays_response(
    sdk_env: RunningEmulator, arm: requests.Session, controls: Controls
) -> None:
    controls.add_fault(kind="slow", delay_seconds=0.4, count=1)

    started = time.monotonic()
    response = arm.get(_lab_url(sdk_env), timeout=30)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert elapsed >= 0.4
    assert controls.requests(controls.last_seq() - 1)[-1]["fault"] == "slow"


def test_fault_rate_with_seed_is_repeatable(
    sdk_env: RunningEmulator, arm: requests.Session, controls: Controls
) -> None:
    def run() -> list[int]:
        controls.reset()
        controls.add_fault(kind="error", status=[500, 503], rate=0.3, seed=42)
        return [arm.get(_lab_url(sdk_env), timeout=30).status_code for _ in range(40)]

    first = run()
    second = run()

    assert first == second
    assert 0 < sum(1 for status in first if status != 200) < 40
    assert {status for status in first if status != 200} <= {500, 503}


def test_fault_rules_count_matches(
    sdk_env: RunningEmulator, arm: requests.Session, controls: Controls
) -> None:
    rule = controls.add_fault(kind="error", status=500, count=2)
    statuses = [arm.get(_lab_url(sdk_env), timeout=30).status_code for _ in range(3)]

    listed = controls.faults()[0]
    deleted = controls.call("DELETE", f"/faults/{rule['id']}")

    assert statuses == [500, 500, 200]
    assert (listed["matched"], listed["injected"]) == (3, 2)
    assert deleted.status_code == 204
    assert controls.faults() == []


def test_fault_rule_validation(controls: Controls) -> None:
    response = controls.call("POST", "/faults", json={"kind": "error", "status": 418})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidControlRequest"


def test_throttling_headers_on_every_response(
    sdk_env: RunningEmulator, arm: requests.Session, controls: Controls
) -> None:
    # Without refill, each read takes exactly one token.
    controls.set_throttling(reads={"capacity": 250, "refill_per_second": 0})
    url = _lab_url(sdk_env)

    first = arm.get(url, timeout=30)
    second = arm.get(url, timeout=30)
    post = arm.post(
        url.replace("?", "/generateUploadUri?"), json={"blobName": "t.vhd"}, timeout=30
    )

    remaining = [
        int(r.headers["x-ms-ratelimit-remaining-subscription-reads"])
        for r in (first, second)
    ]
    assert remaining == [249, 248]
    assert int(post.headers["x-ms-ratelimit-remaining-subscription-writes"]) <= 200


def test_throttling_empty_bucket_is_429(
    sdk_env: RunningEmulator, arm: requests.Session, controls: Controls
) -> None:
    controls.set_throttling(reads={"capacity": 2, "refill_per_second": 0.01})
    url = _lab_url(sdk_env)

    statuses = [arm.get(url, timeout=30) for _ in range(3)]
    throttled = statuses[-1]

    assert [response.status_code for response in statuses] == [200, 200, 429]
    assert throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"


def test_throttled_sdk_call_waits_and_succeeds(
    dtl: DevTestLabsClient, controls: Controls
) -> None:
    controls.set_time_scale(1.0)
    controls.set_throttling(reads={"capacity": 1, "refill_per_second": 2})
    since = controls.last_seq()

    dtl.labs.get(RESOURCE_GROUP, FACTORY_LAB)
    dtl.labs.get(RESOURCE_GROUP, FACTORY_LAB)
    statuses = [entry["status"] for entry in _lab_requests(controls, since)]

    assert statuses == [200, 429, 200]
