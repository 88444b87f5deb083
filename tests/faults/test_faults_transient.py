"""Seeded throttling and server errors on 10% of ARM requests: the run still succeeds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from scripts.bench.audit import AuditReport, audit_factory
from scripts.bench.harness import FactoryHarness
from shared.models import Run, RunStatus
from tests.faults.faulting import (
    RUN_TIMEOUT_SECONDS,
    arm_entries,
    fault_harness,
    faulted,
    same_request,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FAULT_RULE = {"kind": "error", "status": [429, 500, 503], "rate": 0.1, "seed": 7}


@dataclass
class TransientOutcome:
    run: Run
    rule: dict[str, Any]
    log: list[dict[str, Any]]
    audit: AuditReport


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransientOutcome]:
    with fault_harness(tmp_path_factory, "transient") as harness:
        yield _run_with_faults(harness)


def _run_with_faults(harness: FactoryHarness) -> TransientOutcome:
    rule = harness.control("POST", "/faults", FAULT_RULE)
    run = harness.wait_for_run(harness.start_run(), RUN_TIMEOUT_SECONDS)
    rule = next(
        r for r in harness.control("GET", "/faults")["faults"] if r["id"] == rule["id"]
    )
    harness.control("DELETE", "/faults")
    log = harness.request_log()
    return TransientOutcome(run, rule, log, audit_factory(harness, [run.run_id]))


def test_transient_faults_run_succeeds(outcome: TransientOutcome) -> None:
    assert outcome.run.status == RunStatus.SUCCEEDED, outcome.run.error
    assert outcome.run.failed == 0


def test_transient_faults_were_injected(outcome: TransientOutcome) -> None:
    statuses = {entry["status"] for entry in faulted(outcome.log)}
    assert outcome.rule["injected"] >= 5
    assert statuses <= {429, 500, 503}
    assert len(statuses) >= 2


def test_transient_faults_each_in_request_log(outcome: TransientOutcome) -> None:
    logged = [e for e in faulted(outcome.log) if str(e["fault"]).startswith("error:")]
    assert len(logged) == outcome.rule["injected"]
    assert all(e["fault"] == f"error:{e['status']}" for e in logged)


def test_transient_faults_each_retried(outcome: TransientOutcome) -> None:
    entries = arm_entries(outcome.log)
    unanswered = []
    for index, entry in enumerate(entries):
        if not entry.get("fault"):
            continue
        later = entries[index + 1 :]
        if not any(
            same_request(e) == same_request(entry) and not e.get("fault") for e in later
        ):
            unanswered.append(f"{entry['method']} {entry['path']}")
    assert unanswered == []


def test_transient_faults_leave_consistent_state(outcome: TransientOutcome) -> None:
    problems = outcome.audit.problems
    assert [p for found in problems.values() for p in found] == []
    assert outcome.audit.custom_images == 9
