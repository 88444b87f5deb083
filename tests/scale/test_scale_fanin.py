"""The fan-in under contention: storage requests per finished task stay bounded.

Many threads finish the tasks of one run at once, as the distribute stage
does when the copies of a build end together. Each finish is one table
transaction with the run's header. A finisher that loses the race reads the
header again and retries. The requests per task must not grow with the
number of tasks, and the header must count every task exactly once.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests.adapters

from shared.models import Run, Task, TaskStatus
from shared.settings import Settings
from shared.state import StateStore
from shared.storage import StorageClients

pytestmark = pytest.mark.integration

# The dev host runs up to batchSize + newBatchThreshold (16 + 8) messages of a
# function at once, with the host.json of this repository.
FINISHERS = 24
# Table requests per finished task: get the task, then per attempt read the
# header and submit the transaction, then write the run's summary row. With
# every finisher racing for the header at once, this test measured about five
# attempts per task (Azurite 3.37, two cores). Without the randomized backoff
# between attempts it measured 8 to 12, and some finishers gave up.
MAX_REQUESTS_PER_TASK = 20.0


@pytest.fixture(scope="module")
def store(azurite: str) -> StateStore:
    settings = Settings.from_env(
        {"AzureWebJobsStorage": azurite, "FACTORY_CONFIG_REPO": "/unused"}
    )
    store = StateStore(StorageClients.from_settings(settings))
    store.ensure_tables()
    return store


@pytest.fixture
def table_requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count the requests sent through ``requests`` by method and path kind."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()
    original = requests.adapters.HTTPAdapter.send

    def counting_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        kind = "batch" if "$batch" in str(request.url) else "entity"
        with lock:
            counts[f"{request.method} {kind}"] += 1
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
    yield counts


def _planned_run(store: StateStore, count: int) -> Run:
    run = Run(
        run_id=f"fanin-{secrets.token_hex(4)}", trigger="manual", ref="refs/heads/main"
    )
    store.create_run(run)
    tasks = [
        Task(
            run_id=run.run_id,
            task_id=f"copy|linux/img-{i:04d}|team",
            kind="copy",
            image=f"linux/img-{i:04d}",
            version="20261204.000000",
            content_hash="0" * 64,
            os_type="Linux",
            lab="team",
        )
        for i in range(count)
    ]
    store.put_tasks(run.run_id, tasks)

    def set_total(header: Run) -> bool:
        header.total = count
        return True

    store.update_run(run.run_id, set_total)
    return run


def _finish_all(store: StateStore, run: Run, counts: Counter[str]) -> float:
    """Finish every task of ``run`` from FINISHERS threads; return requests per task."""
    task_ids = [t.task_id for t in store.list_tasks(run.run_id)]
    counts.clear()

    def finish(task_id: str) -> None:
        task = store.get_task(run.run_id, task_id)
        task.status = TaskStatus.SUCCEEDED
        store.finish_tasks(run.run_id, [task])

    with ThreadPoolExecutor(FINISHERS) as pool:
        list(pool.map(finish, task_ids))
    return sum(counts.values()) / len(task_ids)


SMALL_RUN = 48
LARGE_RUN = 240


def test_fanin_requests_per_task_bounded(
    store: StateStore, table_requests: Counter[str]
) -> None:
    small_run = _planned_run(store, SMALL_RUN)
    small = _finish_all(store, small_run, table_requests)
    large_run = _planned_run(store, LARGE_RUN)
    large = _finish_all(store, large_run, table_requests)

    for run, count in ((small_run, SMALL_RUN), (large_run, LARGE_RUN)):
        header = store.get_run(run.run_id)
        assert header.finished == count
        assert header.succeeded == count
    assert large <= MAX_REQUESTS_PER_TASK, dict(table_requests)
    assert large <= small * 1.5 + 1.0, f"{small:.2f} then {large:.2f} per task"
