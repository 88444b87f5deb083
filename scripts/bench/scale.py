"""Scale: one first run of a large fleet with the emulator's operations at (almost) no latency.

The emulator's clock cannot stop, so the time scale is one millionth: a VM
that takes 10 minutes in Azure is ready in 0.6 ms. What remains is the
factory's own work, the dev host's queue polling and the monitor interval
between checks, which is what this measures. It records the storage
requests per task, to show that the fan-in does not grow with the run.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.bench.audit import audit_factory
from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import FactoryHarness, HarnessError, HarnessOptions
from scripts.bench.storage import storage_use
from shared.models import Run

logger = logging.getLogger(__name__)

SCALE_TIME_SCALE = 1e-6
# The hook rewrites its file every half second.
COUNTS_SETTLE_SECONDS = 1.5
PROGRESS_LOG_SECONDS = 30.0
# The text urllib3 logs when it closes a connection because its pool is full.
POOL_FULL_MESSAGE = "Connection pool is full"


@dataclass(frozen=True)
class ScaleResult:
    """Measurements of one scale run."""

    images: int
    labs: int
    status: str
    tasks: int
    seconds: float
    storage_requests_per_task: float
    table_requests_per_task: float
    host_requests_per_task: float
    app_requests_by_service: dict[str, int]
    table_operations: dict[str, int]
    devhost_peak_rss_bytes: int | None
    # Connections that urllib3 closed because its pool for the host was full.
    discarded_connections: int
    problems: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_scale(
    spec: FleetSpec,
    state_dir: Path,
    timeout: float,
    time_scale: float = SCALE_TIME_SCALE,
) -> ScaleResult:
    """Run the fleet once on a stack of its own and measure it."""
    options = HarnessOptions(time_scale=time_scale, count_storage=True)
    with FactoryHarness(state_dir, spec, options) as harness:
        harness.wait_until(
            lambda: bool(harness.storage_counts()), 30, "the hook writes"
        )
        time.sleep(COUNTS_SETTLE_SECONDS)
        before = harness.storage_counts()
        started = time.monotonic()
        run_id = harness.start_run()
        timed_out = False
        try:
            run = harness.wait_for_run(run_id, timeout, on_poll=_progress(started))
        except HarnessError as exc:
            logger.error("%s", exc)
            run, timed_out = harness.get_run(run_id), True
        seconds = time.monotonic() - started
        time.sleep(COUNTS_SETTLE_SECONDS)
        use = storage_use(before, harness.storage_counts())
        rss = harness.devhost_peak_rss_bytes()
        discarded = harness.devhost_log().count(POOL_FULL_MESSAGE)
        audit = audit_factory(harness, [run.run_id])
    tasks = max(run.total, 1)
    by_service = use.app_by_service()
    return ScaleResult(
        images=spec.images,
        labs=spec.labs,
        status=f"{run.status} (timed out, {run.finished} finished)"
        if timed_out
        else str(run.status),
        tasks=run.total,
        seconds=round(seconds, 1),
        storage_requests_per_task=round(use.app_total / tasks, 2),
        table_requests_per_task=round(by_service.get("table", 0) / tasks, 2),
        host_requests_per_task=round(use.host_total / tasks, 2),
        app_requests_by_service=by_service,
        table_operations=use.table_operations(),
        devhost_peak_rss_bytes=rss,
        discarded_connections=discarded,
        problems=audit.problems,
    )


def _progress(started: float) -> Any:
    last = [started]

    def report(run: Run) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_LOG_SECONDS:
            last[0] = now
            logger.info(
                "%.0f s: run %s %s, %d of %d tasks finished",
                now - started,
                run.run_id,
                run.status,
                run.finished,
                run.total,
            )

    return report
