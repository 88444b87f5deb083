"""StateStore against Azurite: keys, ETag checks and the exactly-once fan-in count."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.core.exceptions import ResourceModifiedError

from shared.models import Run, RunStatus, Task, TaskStatus
from shared.settings import Settings
from shared.state import StateStore
from shared.storage import StorageClients

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(azurite: str) -> StateStore:
    settings = Settings.from_env(
        {"AzureWebJobsStorage": azurite, "FACTORY_CONFIG_REPO": "/unused"}
    )
    store = StateStore(StorageClients.from_settings(settings))
    store.ensure_tables()
    return store


def make_run(store: StateStore, tasks: int) -> tuple[Run, list[Task]]:
    run = Run(
        run_id=f"test-{secrets.token_hex(4)}", trigger="manual", ref="refs/heads/main"
    )
    store.create_run(run)
    planned = [
        Task(
            run_id=run.run_id,
            task_id=f"copy|linux/img-{i}|team",
            kind="copy",
            image=f"linux/img-{i}",
            version="20261204.000000",
            content_hash="00",
            os_type="Linux",
        )
        for i in range(tasks)
    ]
    store.put_tasks(run.run_id, planned)

    def start(current: Run) -> bool:
        current.total = tasks
        current.status = RunStatus.RUNNING
        return True

    return store.update_run(run.run_id, start), planned


def test_state_store_keys_with_slashes_round_trip(store: StateStore) -> None:
    run, tasks = make_run(store, 2)
    loaded = store.get_task(run.run_id, tasks[0].task_id)
    assert loaded.image == "linux/img-0"
    assert {t.task_id for t in store.list_tasks(run.run_id)} == {
        t.task_id for t in tasks
    }


def test_state_store_save_task_rejects_stale_etag(store: StateStore) -> None:
    run, tasks = make_run(store, 1)
    first = store.get_task(run.run_id, tasks[0].task_id)
    second = store.get_task(run.run_id, tasks[0].task_id)
    first.phase = "uploading"
    store.save_task(first)
    second.phase = "copying"
    with pytest.raises(ResourceModifiedError):
        store.save_task(second)


def test_state_store_finish_counts_each_task_once(store: StateStore) -> None:
    run, tasks = make_run(store, 24)

    def finish(task_id: str) -> int:
        task = store.get_task(run.run_id, task_id)
        task.status = TaskStatus.SUCCEEDED
        header = store.finish_tasks(run.run_id, [task])
        assert header is not None
        return header.finished

    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(finish, [t.task_id for t in tasks]))

    final = store.get_run(run.run_id)
    assert final.finished == 24
    assert final.succeeded == 24
    # Exactly one finisher saw the count reach the total.
    assert counts.count(24) == 1


def test_state_store_finish_twice_is_rejected(store: StateStore) -> None:
    run, tasks = make_run(store, 1)
    task = store.get_task(run.run_id, tasks[0].task_id)
    stale = store.get_task(run.run_id, tasks[0].task_id)
    task.status = TaskStatus.FAILED
    store.finish_tasks(run.run_id, [task])
    stale.status = TaskStatus.SUCCEEDED
    with pytest.raises(ResourceModifiedError):
        store.finish_tasks(run.run_id, [stale])
    assert store.get_run(run.run_id).finished == 1


def test_state_store_counts_cancelled_apart(store: StateStore) -> None:
    run, tasks = make_run(store, 4)
    statuses = [
        TaskStatus.SUCCEEDED,
        TaskStatus.FAILED,
        TaskStatus.SKIPPED,
        TaskStatus.CANCELLED,
    ]
    finished = []
    for planned, status in zip(tasks, statuses, strict=True):
        task = store.get_task(run.run_id, planned.task_id)
        task.status = status
        finished.append(task)
    store.finish_tasks(run.run_id, finished)

    header = store.get_run(run.run_id)
    assert header.finished == 4
    assert header.succeeded == 1
    assert header.failed == 2
    assert header.cancelled == 1


def test_state_store_delivery_claim_returns_first_run(store: StateStore) -> None:
    delivery = secrets.token_hex(8)
    assert store.claim_delivery("github", delivery, "run-a") == "run-a"
    assert store.claim_delivery("github", delivery, "run-b") == "run-a"
