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
from scripts.bench.critical_path import (
    critical_path,
    image_chains,
    operation_spans,
    started_operation_ids,
)
from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import FactoryHarness, HarnessOptions
from scripts.bench.legacy import legacy_schedule
from scripts.bench.machine import describe_machine, import_seconds
from scripts.bench.storage import storage_use
from shared.models import Task, TaskKind

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


def run_benchmark(config: BenchConfig, state_dir: Path) -> dict[str, Any]:
    """Run the fleet once and return every measurement as JSON-ready data."""
    machine = describe_machine()
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
        tasks = harness.list_tasks(run.run_id)
        log = harness.request_log()
        operations = harness.emulator_operations()
        rss = harness.devhost_peak_rss_bytes()
        audit = audit_factory(harness, [run.run_id])
    machine["load_average_after"] = describe_machine()["load_average"]

    assert run.started_at is not None and run.finished_at is not None
    end_to_end = (run.finished_at - run.created_at).total_seconds()
    run_log = [
        e
        for e in log
        if _within(e, run.created_at.timestamp(), run.finished_at.timestamp())
    ]
    chains = image_chains(
        tasks, operation_spans(operations, started_operation_ids(run_log))
    )
    longest = critical_path(chains)
    bound = longest.seconds if longest else 0.0
    legacy = legacy_schedule(chains, config.time_scale, seed=config.legacy_seed)
    end_to_end_azure = end_to_end / config.time_scale
    retry_after = max(1, math.ceil(OPERATION_RETRY_AFTER_AZURE * config.time_scale))
    polls = copy_read_polls(tasks, run_log, operations, retry_after)
    available = image_availability(tasks, run.created_at)
    factory_mean = statistics.fmean(available) / config.time_scale if available else 0.0
    legacy_available = legacy.availability(chains, config.time_scale)
    legacy_mean = statistics.fmean(legacy_available) if legacy_available else 0.0
    counts = arm_request_counts(tasks, run_log)
    imports = import_seconds()
    return {
        "machine": machine,
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
            "problems": audit.problems,
        },
        "end_to_end": {
            "seconds": round(end_to_end, 2),
            "critical_path_seconds": round(bound, 2),
            "ratio": round(end_to_end / bound, 3) if bound else None,
            "target_ratio": TARGET_RATIO,
            "critical_image": longest.image if longest else None,
            "critical_chain": _chain_dict(longest),
        },
        "legacy": {
            "stages": [
                {
                    "name": s.name,
                    "slowest_azure_seconds": round(s.slowest, 1),
                    "observed_azure_seconds": round(s.observed, 1),
                }
                for s in legacy.stages
            ],
            "azure_seconds": round(legacy.seconds, 1),
            "factory_azure_seconds": round(end_to_end_azure, 1),
            "critical_path_azure_seconds": round(bound / config.time_scale, 1),
            "speedup": round(legacy.seconds / end_to_end_azure, 3),
            "speedup_at_critical_path": round(
                legacy.seconds / (bound / config.time_scale), 3
            )
            if bound
            else None,
            "mean_image_available_azure_seconds": round(legacy_mean, 1),
            "factory_mean_image_available_azure_seconds": round(factory_mean, 1),
            "availability_speedup": round(legacy_mean / factory_mean, 3)
            if factory_mean
            else None,
        },
        "arm_requests": counts | {"copy_read_polls": polls},
        "storage": {
            "app_requests": use.app_total,
            "app_requests_per_task": round(use.app_total / max(run.total, 1), 2),
            "table_requests_per_task": round(
                use.app_by_service().get("table", 0) / max(run.total, 1), 2
            ),
            "host_requests_per_second": round(use.host_total / max(end_to_end, 1.0), 2),
            "app_by_service": use.app_by_service(),
            "table_operations": use.table_operations(),
        },
        "devhost_peak_rss_bytes": rss,
        "import": imports | {"target_seconds": TARGET_IMPORT_SECONDS},
    }


def image_availability(tasks: list[Task], started: datetime) -> list[float]:
    """Return, per image, the wall seconds from the run's start until its last copy ended."""
    ends: dict[str, datetime] = {}
    for task in tasks:
        if task.kind != TaskKind.COPY or task.finished_at is None:
            continue
        ends[task.image] = max(ends.get(task.image, task.finished_at), task.finished_at)
    return [(end - started).total_seconds() for end in ends.values()]


def _within(entry: dict[str, Any], start: float, end: float) -> bool:
    return start <= float(entry["start_unix"]) <= end


def _chain_dict(chain: Any) -> dict[str, float] | None:
    if chain is None:
        return None
    return {
        "build_seconds": round(chain.build, 2),
        "capture_seconds": round(chain.capture, 2),
        "slowest_copy_seconds": round(chain.slowest_copy, 2),
    }
