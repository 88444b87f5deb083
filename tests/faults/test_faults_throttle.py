"""ARM throttling: a 429 is waited out for its Retry-After, without a retry storm.

Two kinds of 429: injected ones with a known Retry-After on the polls of the
build VMs, and the emulator's subscription read bucket shrunk until the
run's own reads empty it. In both, the request log must show each throttled
request repeated no sooner than the Retry-After, and never twice within it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from scripts.bench.audit import AuditReport, audit_factory
from scripts.bench.harness import FactoryHarness
from shared.models import Run, RunStatus
from tests.faults.faulting import (
    RUN_TIMEOUT_SECONDS,
    TIME_SCALE,
    arm_entries,
    fault_harness,
    same_request,
)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

# 500 Azure seconds at the tests' time scale: a Retry-After of 2 s.
INJECTED_RETRY_AFTER_AZURE = 500.0
INJECTED_RETRY_AFTER = max(1, math.ceil(INJECTED_RETRY_AFTER_AZURE * TIME_SCALE))
INJECTED_RULE = {
    "kind": "error",
    "status": 429,
    "method": "GET",
    "path": "/virtualmachines/ifb",
    "count": 6,
    "retry_after_seconds": INJECTED_RETRY_AFTER_AZURE,
}
# About two read tokens per wall second; the emulator's Retry-After is then 1 s.
READ_BUCKET = {"capacity": 8, "refill_per_second": 2 * TIME_SCALE}
MIN_RETRY_AFTER = 1
# The request log stamps times on the server; the client sleeps at least the
# Retry-After between receiving the 429 and sending the next attempt.
CLOCK_TOLERANCE_SECONDS = 0.05


@dataclass
class ThrottleOutcome:
    run: Run
    log: list[dict[str, Any]]
    audit: AuditReport


@dataclass(frozen=True)
class Retry:
    """A request that got a 429, and the next attempt of the same request."""

    throttled: dict[str, Any]
    next_attempt: dict[str, Any] | None

    @property
    def wait(self) -> float:
        assert self.next_attempt is not None
        return float(self.next_attempt["start_unix"]) - float(
            self.throttled["end_unix"]
        )


def retries(log: list[dict[str, Any]]) -> list[Retry]:
    entries = arm_entries(log)
    found = []
    for index, entry in enumerate(entries):
        if entry["status"] != 429:
            continue
        later = (
            e for e in entries[index + 1 :] if same_request(e) == same_request(entry)
        )
        found.append(Retry(entry, next(later, None)))
    return found


def _run(harness: FactoryHarness) -> ThrottleOutcome:
    run = harness.wait_for_run(harness.start_run(), RUN_TIMEOUT_SECONDS)
    harness.control("DELETE", "/faults")
    harness.control(
        "PUT", "/throttling", {"reads": {"capacity": 250, "refill_per_second": 25}}
    )
    log = harness.request_log()
    return ThrottleOutcome(run, log, audit_factory(harness, [run.run_id]))


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrottleOutcome]:
    with fault_harness(tmp_path_factory, "throttle-injected") as harness:
        harness.control("POST", "/faults", INJECTED_RULE)
        yield _run(harness)


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThrottleOutcome]:
    with fault_harness(tmp_path_factory, "throttle-bucket") as harness:
        harness.control("PUT", "/throttling", {"reads": READ_BUCKET})
        yield _run(harness)


def test_throttle_injected_run_succeeds(injected: ThrottleOutcome) -> None:
    assert injected.run.status == RunStatus.SUCCEEDED, injected.run.error
    assert len(retries(injected.log)) == INJECTED_RULE["count"]


def test_throttle_injected_waits_retry_after(injected: ThrottleOutcome) -> None:
    found = retries(injected.log)
    assert all(r.next_attempt is not None for r in found)
    early = [
        round(r.wait, 3)
        for r in found
        if r.wait < INJECTED_RETRY_AFTER - CLOCK_TOLERANCE_SECONDS
    ]
    assert early == []


def test_throttle_injected_no_retry_storm(injected: ThrottleOutcome) -> None:
    # At most one attempt per Retry-After interval: the wait is also not far above it.
    waits = [r.wait for r in retries(injected.log)]
    assert max(waits) < INJECTED_RETRY_AFTER + 1.0


def test_throttle_bucket_run_succeeds(bucket: ThrottleOutcome) -> None:
    assert bucket.run.status == RunStatus.SUCCEEDED, bucket.run.error
    assert len(retries(bucket.log)) >= 3


def test_throttle_bucket_waits_retry_after(bucket: ThrottleOutcome) -> None:
    waits = [r.wait for r in retries(bucket.log) if r.next_attempt is not None]
    early = [
        round(w, 3) for w in waits if w < MIN_RETRY_AFTER - CLOCK_TOLERANCE_SECONDS
    ]
    assert early == []


def test_throttle_bucket_no_retry_storm(bucket: ThrottleOutcome) -> None:
    reads = [e for e in arm_entries(bucket.log) if e["method"] == "GET"]
    throttled = [e for e in reads if e["status"] == 429]
    # Each throttled read costs one more request after its wait, not a burst.
    assert len(throttled) <= len(reads) - len(throttled)


def test_throttle_leaves_consistent_state(
    injected: ThrottleOutcome, bucket: ThrottleOutcome
) -> None:
    for outcome in (injected, bucket):
        problems = dict(outcome.audit.problems)
        problems.pop("no_upload_blob")
        assert [p for found in problems.values() for p in found] == []
