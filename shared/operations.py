"""Operator actions on a run: cancel it, or retry only its failed tasks."""

from __future__ import annotations

import logging

from shared.context import Factory
from shared.models import Run, RunStatus, Task, TaskKind, TaskStatus
from shared.notify import run_ended
from shared.pipeline.tasks import resume_run
from shared.state import MAX_TRANSACTION_OPERATIONS

logger = logging.getLogger(__name__)

RETRYABLE_TASK_STATUSES = {TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED}


class OperationRejected(Exception):
    """The run is not in a state that allows the action; the message gives the reason."""


def cancel_run(factory: Factory, run_id: str, requested_by: str) -> Run:
    """Mark a run cancelled; its tasks stop and clean up on their next delivery.

    Every task handler checks the run's status first: a build deletes its
    factory VM, a copy deletes its upload blob and any half-made custom image,
    and each task ends cancelled. Pending tasks get a message now so that they
    do so without waiting for a monitor interval.
    """

    def change(run: Run) -> bool:
        if RunStatus(run.status).is_final:
            raise OperationRejected(
                f"run {run.run_id} has ended ({run.status}); nothing to cancel"
            )
        run.status = RunStatus.CANCELLED
        run.error = f"cancelled by {requested_by}"
        run.finished_at = factory.now()
        return True

    run = factory.store.update_run(run_id, change)
    run_ended(factory, run)
    woken = resume_run(factory, run)
    logger.info(
        "run %s cancelled by %s; %d tasks told to stop", run_id, requested_by, woken
    )
    return run


def retry_run(
    factory: Factory, run_id: str, requested_by: str
) -> tuple[Run, list[Task]]:
    """Run the failed, skipped and cancelled tasks of an ended run again.

    Succeeded tasks are left alone. A retried build gets a new attempt number,
    and so a new factory VM name; the run's counters drop the retried tasks,
    in the same transactions that reopen them.
    """
    run = factory.store.get_run(run_id)
    if not RunStatus(run.status).is_final:
        raise OperationRejected(
            f"run {run_id} is still {run.status}; wait for it to end or cancel it"
        )
    tasks = [
        t
        for t in factory.store.list_tasks(run_id)
        if t.status in RETRYABLE_TASK_STATUSES
    ]
    if not tasks:
        raise OperationRejected(
            f"run {run_id} has no failed, skipped or cancelled task to retry"
        )

    batch_size = MAX_TRANSACTION_OPERATIONS - 1
    for start in range(0, len(tasks), batch_size):
        batch = tasks[start : start + batch_size]
        old_statuses = [t.status for t in batch]
        for task in batch:
            _reopen(task)

        def reopen_in_header(header: Run, statuses: list[str] = old_statuses) -> None:
            for status in statuses:
                header.finished -= 1
                if status == TaskStatus.SUCCEEDED:
                    header.succeeded -= 1
                elif status == TaskStatus.CANCELLED:
                    header.cancelled -= 1
                else:
                    header.failed -= 1
            header.status = RunStatus.RUNNING
            header.error = ""
            header.finished_at = None

        run = factory.store.write_tasks_with_header(run_id, batch, reopen_in_header)

    logger.info("run %s: %d tasks retried by %s", run_id, len(tasks), requested_by)
    resume_run(factory, run)
    return run, tasks


def _reopen(task: Task) -> None:
    task.status = TaskStatus.PENDING
    task.phase = ""
    task.error = ""
    task.finished_at = None
    task.started_at = None
    task.deadline = None
    task.copy_attempts = 0
    if task.kind == TaskKind.COPY:
        task.upload_blob_url = ""
        task.custom_image_id = ""
    else:
        task.vm_id = ""
        task.os_disk_id = ""
