"""The benchmark: one first run of a fleet on the emulator with scaled, realistic durations.

At time scale 0.1 a monitor interval of 6 s stands for the product's
default of 60 s, so operation durations and the factory's own polling are
scaled alike. The dev host's queue polling (at most 2 s between polls of an
idle queue, from host.json) and the time the functions themselves take are
not scaled: they weigh ten times more, in Azure seconds, than they would in
Azure. Build times spread with each image's artifacts (VM create 300-600 s,
each artifact 60-240 s, generalization 300-600 s, in Azure seconds), and
each copy draws its own custom image time (240-330 s), so copies differ by
image and by lab.
"""

from __future__ import annotations

import logging
import math
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from scripts.bench.arm_requests import arm_request_counts, copy_read_polls
from scripts.bench.audit import audit_factory
from scripts.bench.breakdown import critical_image_steps
from scripts.bench.critical_path import (
    ImageChain,
    OperationSpan,
    critical_path,
    image_chains,
    operation_spans,
    started_operation_ids,
)
from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import FactoryHarness, HarnessOptions
from scripts.bench.legacy import legacy_schedule
from scripts.bench.machine import describe_machine, import_seconds
from scripts.bench.storage import StorageUse, storage_use
from shared.models import Run, RunStatus, Task, TaskKind

logger = logging.getLogger(__name__)

BENCH_TIME_SCALE = 0.1
# The product's default FACTORY_MONITOR_INTERVAL_SECONDS of 60 s, scaled.
BENCH_MONITOR_INTERVAL_SECONDS = 6
BENCH_FLEET = FleetSpec(images=12, labs=5, seed=3, max_extra_artifacts=5)
RUN_TIMEOUT_SECONDS = 1800.0
# The emulator's operations advertise Retry-After 15 Azure seconds.
OPERATION_RETRY_AFTER_AZURE = 15.0
SETTLE_SECONDS = 1.5
TARGET_RATIO = 1.10
TARGET_IMPORT_SECONDS = 0.300


@dataclass(frozen=True)
class BenchConfig:
    fleet: FleetSpec = BENCH_FLEET
    time_scale: float = BENCH_TIME_SCALE
    emulator_seed: int = 1
    legacy_seed: int = 1
    monitor_interval_seconds: int = BENCH_MONITOR_INTERVAL_SECONDS


class BenchmarkError(Exception):
    """The benchmark's run did not succeed, so there is nothing to analyse."""


@dataclass
class RawMeasurements:
    """The records and counts of one benchmark run, before analysis."""

    run: Run
    tasks: list[Task]
    log: list[dict[str, Any]]
    operations: list[dict[str, Any]]
    storage: StorageUse
    peak_rss_bytes: int | None
    problems: dict[str, list[str]]


def run_benchmark(config: BenchConfig, state_dir: Path) -> dict[str, Any]:
    """Run the fleet once and return every measurement as JSON-ready data."""
    machine = describe_machine()
    raw = measure(config, state_dir)
    machine["load_average_after"] = describe_machine()["load_average"]
    return {"machine": machine} | analyse(config, raw) | {"import": _imports()}


def measure(config: BenchConfig, state_dir: Path) -> RawMeasurements:
    """Start a stack, run the fleet once and collect the logs, records and counts."""
    options = HarnessOptions(
        time_scale=config.time_scale,
        emulator_seed=config.emulator_seed,
        monitor_interval_seconds=config.monitor_interval_seconds,
        count_storage=True,
    )
    with FactoryHarness(state_dir, config.fleet, options) as harness:
        harness.wait_until(
            lambda: bool(harness.storage_counts()), 30, "the hook writes"
        )
        time.sleep(SETTLE_SECONDS)
        before = harness.storage_counts()
        run = harness.wait_for_run(harness.start_run(), RUN_TIMEOUT_SECONDS)
        time.sleep(SETTLE_SECONDS)
        use = storage_use(before, harness.storage_counts())
        if run.status != RunStatus.SUCCEEDED or run.finished_at is None:
            raise BenchmarkError(f"run {run.run_id} ended {run.status}: {run.error}")
        return RawMeasurements(
            run=run,
            tasks=harness.list_tasks(run.run_id),
            log=harness.request_log(),
            operations=harness.emulator_operations(),
            storage=use,
            peak_rss_bytes=harness.devhost_peak_rss_bytes(),
            problems=audit_factory(harness, [run.run_id]).problems,
        )


def analyse(config: BenchConfig, raw: RawMeasurements) -> dict[str, Any]:
    """Turn one run's raw measurements into the benchmark's results."""
    run = raw.run
    assert run.finished_at is not None
    end_to_end = (run.finished_at - run.created_at).total_seconds()
    window = (run.created_at.timestamp(), run.finished_at.timestamp())
    run_log = [e for e in raw.log if window[0] <= float(e["start_unix"]) <= window[1]]

    spans = operation_spans(raw.operations, started_operation_ids(run_log))
    chains = image_chains(raw.tasks, spans)
    longest = critical_path(chains)
    if longest is None:
        raise BenchmarkError(f"run {run.run_id} has no complete build and copy chain")

    retry_after = max(1, math.ceil(OPERATION_RETRY_AFTER_AZURE * config.time_scale))
    return {
        "config": {
            "images": config.fleet.images,
            "labs": config.fleet.labs,
            "copies": config.fleet.copies,
            "time_scale": config.time_scale,
            "emulator_seed": config.emulator_seed,
            "monitor_interval_seconds": config.monitor_interval_seconds,
        },
        "run": {
            "run_id": run.run_id,
            "status": str(run.status),
            "tasks": run.total,
            "problems": raw.problems,
        },
        "end_to_end": _end_to_end(run, raw.tasks, spans, longest, end_to_end),
        "legacy": _legacy(config, raw.tasks, chains, longest, end_to_end, run),
        "arm_requests": arm_request_counts(raw.tasks, run_log)
        | {
            "copy_read_polls": copy_read_polls(
                raw.tasks, run_log, raw.operations, retry_after
            )
        },
        "storage": _storage(raw.storage, run.total, end_to_end),
        "devhost_peak_rss_bytes": raw.peak_rss_bytes,
    }


def _end_to_end(
    run: Run,
    tasks: list[Task],
    spans: list[OperationSpan],
    longest: ImageChain,
    seconds: float,
) -> dict[str, Any]:
    steps = critical_image_steps(run, tasks, spans, longest.image)
    return {
        "seconds": round(seconds, 2),
        "critical_path_seconds": round(longest.seconds, 2),
        "ratio": round(seconds / longest.seconds, 3),
        "target_ratio": TARGET_RATIO,
        "critical_image": longest.image,
        "critical_chain": {
            "build_seconds": round(longest.build, 2),
            "capture_seconds": round(longest.capture, 2),
            "slowest_copy_seconds": round(longest.slowest_copy, 2),
        },
        "steps": [
            {"step": step.name, "seconds": step.seconds, "azure": step.azure}
            for step in steps
        ],
    }


def _legacy(
    config: BenchConfig,
    tasks: list[Task],
    chains: list[ImageChain],
    longest: ImageChain,
    end_to_end: float,
    run: Run,
) -> dict[str, Any]:
    """Compare with the stage-by-stage schedule, all in Azure seconds."""
    scale = config.time_scale
    legacy = legacy_schedule(chains, scale, seed=config.legacy_seed)
    factory_seconds = end_to_end / scale
    bound_seconds = longest.seconds / scale
    available = [s / scale for s in image_availability(tasks, run.created_at)]
    legacy_available = legacy.availability(chains, scale)
    return {
        "stages": [
            {
                "name": s.name,
                "slowest_azure_seconds": round(s.slowest, 1),
                "observed_azure_seconds": round(s.observed, 1),
            }
            for s in legacy.stages
        ],
        "azure_seconds": round(legacy.seconds, 1),
        "factory_azure_seconds": round(factory_seconds, 1),
        "critical_path_azure_seconds": round(bound_seconds, 1),
        "speedup": round(legacy.seconds / factory_seconds, 3),
        "speedup_at_critical_path": round(legacy.seconds / bound_seconds, 3),
        "mean_image_available_azure_seconds": round(
            statistics.fmean(legacy_available), 1
        ),
        "factory_mean_image_available_azure_seconds": round(
            statistics.fmean(available), 1
        ),
        "availability_speedup": round(
            statistics.fmean(legacy_available) / statistics.fmean(available), 3
        ),
    }


def _storage(use: StorageUse, tasks: int, seconds: float) -> dict[str, Any]:
    by_service = use.app_by_service()
    return {
        "app_requests": use.app_total,
        "app_requests_per_task": round(use.app_total / max(tasks, 1), 2),
        "table_requests_per_task": round(by_service.get("table", 0) / max(tasks, 1), 2),
        "host_requests_per_second": round(use.host_total / max(seconds, 1.0), 2),
        "app_by_service": by_service,
        "table_operations": use.table_operations(),
    }


def _imports() -> dict[str, Any]:
    return import_seconds() | {"target_seconds": TARGET_IMPORT_SECONDS}


def image_availability(tasks: list[Task], started: datetime) -> list[float]:
    """Return, per image, the wall seconds from the run's start until its last copy ended."""
    ends: dict[str, datetime] = {}
    for task in tasks:
        if task.kind != TaskKind.COPY or task.finished_at is None:
            continue
        ends[task.image] = max(ends.get(task.image, task.finished_at), task.finished_at)
    return [(end - started).total_seconds() for end in ends.values()]
