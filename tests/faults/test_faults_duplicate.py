"""A message delivered twice changes nothing.

During the run, a watcher reads the task rows and sends a second copy of
every stage message the factory has sent by then. These are each build's
first message, each monitor check (numbered with the task's check count),
each capture, each copy's first message and the finalize message. After the
run, every stage message of the run is sent once more, and the tables,
the labs and the ARM request log must not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from scripts.bench.audit import AuditReport, audit_factory
from scripts.bench.harness import FactoryHarness
from shared.keys import escape_key
from shared.models import Run, RunStatus, Task, TaskKind, TaskStatus
from shared.queues import (
    BUILD_QUEUE,
    CAPTURE_QUEUE,
    DISTRIBUTE_QUEUE,
    FINALIZE_QUEUE,
    PLAN_QUEUE,
    STAGE_QUEUES,
)
from tests.faults.faulting import RUN_TIMEOUT_SECONDS, arm_entries, fault_harness

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

DRAIN_TIMEOUT_SECONDS = 60.0
WRITE_METHODS = {"PUT", "POST", "PATCH", "DELETE"}


@dataclass
class Duplicator:
    """Send a second copy of each stage message that the task rows show was sent."""

    harness: FactoryHarness
    run_id: str
    sent: set[tuple[str, str, int]] = field(default_factory=set)

    def __call__(self, run: Run) -> None:
        if run.status != RunStatus.RUNNING:
            return
        tasks = {t.task_id: t for t in self.harness.list_tasks(self.run_id)}
        for task in tasks.values():
            for queue in _queues_with_message(task, tasks):
                self._send_once(queue, task.task_id, task.checks)
        if run.total and run.finished == run.total:
            self._send_once(FINALIZE_QUEUE, "", 0)

    def _send_once(self, queue: str, task_id: str, check: int) -> None:
        key = (queue, task_id, check)
        if key in self.sent:
            return
        self.sent.add(key)
        message = {"run_id": self.run_id, "task_id": task_id, "check": check}
        self.harness.send_stage_message(queue, message)


def _queues_with_message(task: Task, tasks: dict[str, Task]) -> list[str]:
    """The queues that hold (or held) a message for ``task`` with its current check count."""
    if TaskStatus(task.status).is_final:
        return []
    if task.kind == TaskKind.BUILD:
        if task.phase in ("generalized", "copying"):
            return [CAPTURE_QUEUE]
        return [BUILD_QUEUE]
    if task.kind == TaskKind.COPY:
        build = tasks.get(f"build|{task.image}")
        if build is None or build.status == TaskStatus.SUCCEEDED:
            return [DISTRIBUTE_QUEUE]
    return []


@dataclass
class DuplicateOutcome:
    run: Run
    duplicates_during_run: int
    log: list[dict[str, Any]]
    audit: AuditReport
    before: dict[str, Any]
    after: dict[str, Any]
    writes_after: list[str]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuplicateOutcome]:
    with fault_harness(tmp_path_factory, "duplicate") as harness:
        run_id = harness.start_run()
        duplicator = Duplicator(harness, run_id)
        run = harness.wait_for_run(run_id, RUN_TIMEOUT_SECONDS, on_poll=duplicator)
        audit = audit_factory(harness, [run_id])
        before = _snapshot(harness, run_id)
        seen = len(harness.request_log())
        _send_every_message_again(harness, run_id)
        _wait_until_drained(harness)
        after = _snapshot(harness, run_id)
        log = harness.request_log()
        writes_after = [
            f"{e['method']} {e['path']}"
            for e in arm_entries(log[seen:])
            if e["method"] in WRITE_METHODS
        ]
        yield DuplicateOutcome(
            run, len(duplicator.sent), log, audit, before, after, writes_after
        )


def _send_every_message_again(harness: FactoryHarness, run_id: str) -> None:
    harness.send_stage_message(PLAN_QUEUE, {"run_id": run_id})
    harness.send_stage_message(FINALIZE_QUEUE, {"run_id": run_id})
    for task in harness.list_tasks(run_id):
        queues = {
            TaskKind.BUILD: (BUILD_QUEUE, CAPTURE_QUEUE),
            TaskKind.COPY: (DISTRIBUTE_QUEUE,),
        }.get(TaskKind(task.kind), ())
        for queue in queues:
            for check in sorted({0, task.checks}):
                message = {"run_id": run_id, "task_id": task.task_id, "check": check}
                harness.send_stage_message(queue, message)


def _wait_until_drained(harness: FactoryHarness) -> None:
    def pending() -> int:
        lengths = harness.queue_lengths()
        return sum(lengths.get(queue, 0) for queue in STAGE_QUEUES)

    harness.wait_until(lambda: pending() == 0, DRAIN_TIMEOUT_SECONDS, "queues drained")


def _snapshot(harness: FactoryHarness, run_id: str) -> dict[str, Any]:
    """The run's rows with their ETags, the versions, the holdings and the labs' images."""
    tables = harness.tables()
    tasks = tables.get_table_client("tasks").query_entities(
        "PartitionKey eq @pk", parameters={"pk": escape_key(run_id)}
    )
    snapshot: dict[str, Any] = {
        "tasks": {e["RowKey"]: (dict(e), e.metadata["etag"]) for e in tasks},
    }
    for name in ("images", "labimages", "buildlocks"):
        snapshot[name] = {
            (e["PartitionKey"], e["RowKey"]): (dict(e), e.metadata["etag"])
            for e in tables.get_table_client(name).list_entities()
        }
    snapshot["custom_images"] = sorted(
        item["id"].lower()
        for lab_id in harness.stack.emulator.team_lab_ids
        for item in harness.arm_list(f"{lab_id}/customimages")
    )
    return snapshot


def test_duplicate_run_succeeds(outcome: DuplicateOutcome) -> None:
    assert outcome.run.status == RunStatus.SUCCEEDED, outcome.run.error
    assert outcome.duplicates_during_run >= outcome.run.total


def _puts(log: list[dict[str, Any]], status: int | None = None) -> dict[str, int]:
    """Count the PUTs on each VM and custom image, optionally of one response status."""
    puts: dict[str, int] = {}
    for entry in arm_entries(log):
        path = str(entry["path"]).lower()
        if entry["method"] != "PUT" or (status and entry["status"] != status):
            continue
        if "/virtualmachines/" in path or "/customimages/" in path:
            puts[path] = puts.get(path, 0) + 1
    return puts


def test_duplicate_creates_each_resource_once(outcome: DuplicateOutcome) -> None:
    created = _puts(outcome.log, status=201)
    assert len(created) == outcome.audit.custom_images + 3
    assert {path: n for path, n in created.items() if n != 1} == {}


def test_duplicate_leaves_consistent_state(outcome: DuplicateOutcome) -> None:
    problems = dict(outcome.audit.problems)
    problems.pop("no_upload_blob")
    assert [p for found in problems.values() for p in found] == []
    assert outcome.audit.custom_images == 9


def test_duplicate_after_run_changes_no_row(outcome: DuplicateOutcome) -> None:
    for name in ("tasks", "images", "labimages", "buildlocks"):
        assert outcome.after[name] == outcome.before[name], name


def test_duplicate_after_run_changes_no_lab(outcome: DuplicateOutcome) -> None:
    assert outcome.after["custom_images"] == outcome.before["custom_images"]
    assert outcome.writes_after == []
