"""A reduced scale run: 20 images for 10 team labs (200 copies) at almost no latency.

``make scale`` runs the same measurement for 200 images and 50 team labs.
Wall time is not asserted; the storage requests per task are, because the
fan-in must not cost more per task as a run grows.
"""

from __future__ import annotations

import pytest

from scripts.bench.fleet import FleetSpec
from scripts.bench.scale import ScaleResult, run_scale

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

FLEET = FleetSpec(images=20, labs=10, seed=2)
RUN_TIMEOUT_SECONDS = 600.0
# About 12 table requests per copy without contention (reads, three ETag
# writes, the holding, the fan-in transaction and the run summary), plus the
# blob and queue requests, plus retries of the fan-in when copies end together.
MAX_STORAGE_REQUESTS_PER_TASK = 40.0


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> ScaleResult:
    return run_scale(FLEET, tmp_path_factory.mktemp("scale"), RUN_TIMEOUT_SECONDS)


def test_scale_run_succeeds(result: ScaleResult) -> None:
    assert result.status == "succeeded"
    assert result.tasks == FLEET.images + FLEET.copies


def test_scale_run_state_consistent(result: ScaleResult) -> None:
    assert [p for found in result.problems.values() for p in found] == []


def test_scale_run_storage_per_task_bounded(result: ScaleResult) -> None:
    assert result.storage_requests_per_task <= MAX_STORAGE_REQUESTS_PER_TASK, (
        result.table_operations
    )


def test_scale_run_reuses_connections(result: ScaleResult) -> None:
    assert result.discarded_connections == 0
