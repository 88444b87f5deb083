"""Crash safety: the dev host is killed with SIGKILL during a run, several times.

The kill times are drawn from a seeded generator. After each kill the dev
host starts again on the same Azurite and emulator, so queued messages and
table state survive while in-flight invocations are lost. Messages
received before a kill reappear when their lease ends, which these tests
shorten to a few seconds. In Azure the watchdog's timer fires every five
minutes; here the test fires it every few seconds, with a stall threshold
of six seconds. So a chain of messages lost between a table write and the
next send is resumed within the test.

A message that five deliveries in a row fail to finish moves to the poison
queue, crashes included, as in the Functions host. So each profile keeps
that from happening by construction. The small one kills fewer than five
times. The large one (``FACTORY_CHAOS_PROFILE=large``, ``make chaos``) kills
more often, but waits longer between kills than a message needs to come back
after its lease and finish: capture, the longest delivery, waits for disk
access and takes a few seconds.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts.bench.audit import AuditReport, audit_factory
from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import FactoryHarness, HarnessOptions
from shared.models import Run, RunStatus

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

logger = logging.getLogger(__name__)

PROFILE_VARIABLE = "FACTORY_CHAOS_PROFILE"
MESSAGE_LEASE_SECONDS = 4
WATCHDOG_STALL_MINUTES = 0.1
WATCHDOG_EVERY_SECONDS = 5.0
RUN_TIMEOUT_SECONDS = 300.0


@dataclass(frozen=True)
class ChaosProfile:
    """A fleet, how many kills, and the range of seconds between them."""

    images: int
    labs: int
    kills: int
    seeds: tuple[int, ...]
    min_gap_seconds: float = 1.0
    max_gap_seconds: float = 6.0
    time_scale: float = 0.004


PROFILES = {
    "small": ChaosProfile(images=4, labs=3, kills=3, seeds=(11,)),
    "large": ChaosProfile(
        images=16,
        labs=3,
        kills=8,
        seeds=(21, 22, 23),
        min_gap_seconds=2 * MESSAGE_LEASE_SECONDS + 2,
        max_gap_seconds=16.0,
        time_scale=0.05,
    ),
}
PROFILE = PROFILES[os.environ.get(PROFILE_VARIABLE, "small")]


@dataclass
class ChaosOutcome:
    run: Run
    kills: list[float]
    audit: AuditReport


def run_with_kills(harness: FactoryHarness, seed: int) -> ChaosOutcome:
    """Start a run, SIGKILL and restart the dev host at seeded times, wait for the end."""
    rng = random.Random(seed)
    run_id = harness.start_run()
    started = time.monotonic()
    kills: list[float] = []
    for _ in range(PROFILE.kills):
        time.sleep(rng.uniform(PROFILE.min_gap_seconds, PROFILE.max_gap_seconds))
        if RunStatus(harness.get_run(run_id).status).is_final:
            break
        harness.stack.restart_devhost(kill=True)
        kills.append(round(time.monotonic() - started, 1))
        logger.info("killed the dev host %.1f s into run %s", kills[-1], run_id)

    last_watchdog = time.monotonic()

    def fire_watchdog(run: Run) -> None:
        nonlocal last_watchdog
        if time.monotonic() - last_watchdog >= WATCHDOG_EVERY_SECONDS:
            harness.fire_timer("watchdog")
            last_watchdog = time.monotonic()

    run = harness.wait_for_run(run_id, RUN_TIMEOUT_SECONDS, on_poll=fire_watchdog)
    return ChaosOutcome(run, kills, audit_factory(harness, [run_id]))


@pytest.fixture(scope="module", params=PROFILE.seeds, ids=lambda s: f"seed{s}")
def outcome(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChaosOutcome]:
    seed = int(request.param)
    fleet = FleetSpec(images=PROFILE.images, labs=PROFILE.labs, seed=seed)
    options = HarnessOptions(
        time_scale=PROFILE.time_scale,
        emulator_seed=seed,
        message_lease_seconds=MESSAGE_LEASE_SECONDS,
        watchdog_stall_minutes=WATCHDOG_STALL_MINUTES,
    )
    state_dir: Path = tmp_path_factory.mktemp(f"chaos-{seed}")
    with FactoryHarness(state_dir, fleet, options) as harness:
        yield run_with_kills(harness, seed)


def test_chaos_run_succeeds(outcome: ChaosOutcome) -> None:
    assert outcome.kills, "the run ended before the first kill"
    assert outcome.run.status == RunStatus.SUCCEEDED, outcome.run.error
    assert outcome.run.total == PROFILE.images * (PROFILE.labs + 1)


@pytest.mark.parametrize(
    "check",
    [
        "run_counters",
        "one_image_per_version_and_lab",
        "images_recorded",
        "copies_present",
        "one_version_per_hash",
        "no_factory_vm",
        "image_store",
        "poison_queues",
    ],
)
def test_chaos_state_consistent(outcome: ChaosOutcome, check: str) -> None:
    assert outcome.audit.problems[check] == [], f"kills at {outcome.kills} s"


def test_chaos_custom_image_per_copy(outcome: ChaosOutcome) -> None:
    assert outcome.audit.custom_images == PROFILE.images * PROFILE.labs
    assert outcome.audit.versions == PROFILE.images


def test_chaos_leaves_no_upload_blob(outcome: ChaosOutcome) -> None:
    assert outcome.audit.problems["no_upload_blob"] == []
