"""A permanent failure in one lab: the factory's role there is only Reader.

Every copy into that lab fails at once with the authorization error, without
retries. Every other lab receives every image, and the run ends partially
succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from scripts.bench.audit import AuditReport, audit_factory
from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import FactoryHarness
from shared.models import Run, RunStatus, Task, TaskKind, TaskStatus
from tests.faults.faulting import RUN_TIMEOUT_SECONDS, fault_harness

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FLEET = FleetSpec(images=3, labs=3, seed=6)
BROKEN_LAB = "dtl-team-qa"


@dataclass
class PermanentOutcome:
    run: Run
    tasks: list[Task]
    log: list[dict[str, Any]]
    audit: AuditReport


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PermanentOutcome]:
    with fault_harness(tmp_path_factory, "permanent", FLEET) as harness:
        _demote_to_reader(harness, BROKEN_LAB)
        run = harness.wait_for_run(harness.start_run(), RUN_TIMEOUT_SECONDS)
        log = harness.request_log()
        yield PermanentOutcome(
            run,
            harness.list_tasks(run.run_id),
            log,
            audit_factory(harness, [run.run_id]),
        )


def _demote_to_reader(harness: FactoryHarness, lab_name: str) -> None:
    current = harness.control("GET", "/role-assignments")["role_assignments"]
    changed = [
        {
            "principal_id": item["principal_id"],
            "role": "Reader"
            if item["scope"].lower().endswith(f"/{lab_name}")
            else item["role"],
            "scope": item["scope"],
        }
        for item in current
    ]
    harness.control("PUT", "/role-assignments", {"role_assignments": changed})


def _copies(outcome: PermanentOutcome, broken: bool) -> list[Task]:
    return [
        t
        for t in outcome.tasks
        if t.kind == TaskKind.COPY and (t.lab == BROKEN_LAB) == broken
    ]


def test_permanent_failure_run_partially_succeeds(outcome: PermanentOutcome) -> None:
    assert outcome.run.status == RunStatus.PARTIALLY_SUCCEEDED
    assert outcome.run.failed == FLEET.images
    assert outcome.run.succeeded == outcome.run.total - FLEET.images


def test_permanent_failure_fails_only_that_lab(outcome: PermanentOutcome) -> None:
    failed = _copies(outcome, broken=True)
    assert len(failed) == FLEET.images
    assert {t.status for t in failed} == {TaskStatus.FAILED}
    assert all("AuthorizationFailed" in t.error for t in failed)


def test_permanent_failure_other_labs_complete(outcome: PermanentOutcome) -> None:
    copies = _copies(outcome, broken=False)
    builds = [t for t in outcome.tasks if t.kind == TaskKind.BUILD]
    assert len(copies) == FLEET.images * (FLEET.labs - 1)
    assert {t.status for t in copies} == {TaskStatus.SUCCEEDED}
    assert {t.status for t in builds} == {TaskStatus.SUCCEEDED}
    assert outcome.audit.custom_images == len(copies)


def test_permanent_failure_not_retried(outcome: PermanentOutcome) -> None:
    denied = [
        e
        for e in outcome.log
        if e["status"] == 403 and f"/labs/{BROKEN_LAB}/" in str(e["path"]).lower()
    ]
    # One per copy, and one for the retention sweep: it requests an upload URI to
    # find the lab's upload container, and skips the lab when that is denied.
    assert len(denied) == FLEET.images + 1
    assert {e["error_code"] for e in denied} == {"AuthorizationFailed"}


def test_permanent_failure_leaves_consistent_state(outcome: PermanentOutcome) -> None:
    problems = outcome.audit.problems
    assert [p for found in problems.values() for p in found] == []
