"""Shared steps of the task handlers: finish a task, fail it, resume a run."""

from __future__ import annotations

import json
import logging

from azure.core.exceptions import ResourceModifiedError

from shared.context import Factory
from shared.errors import RunNotFoundError
from shared.lifecycle.health import record_build_result
from shared.models import Run, RunStatus, Task, TaskKind, TaskStatus
from shared.notify import run_ended
from shared.planner import FACTORY_LAB, copy_task_id
from shared.queues import (
    BUILD_QUEUE,
    CAPTURE_QUEUE,
    DISTRIBUTE_QUEUE,
    FINALIZE_QUEUE,
    RETIRE_QUEUE,
    StageMessage,
)

logger = logging.getLogger(__name__)


def finish(factory: Factory, task: Task, status: TaskStatus, error: str = "") -> bool:
    """Mark ``task`` final and count it; send finalize when it was the run's last.

    A failed build also skips the copies that were waiting for it. Returns False
    when another delivery changed the task first (nothing was written).
    """
    task.status = status
    task.error = error
    task.finished_at = factory.now()
    batch = [task]
    if task.kind == TaskKind.BUILD and status != TaskStatus.SUCCEEDED:
        batch.extend(_waiting_copies(factory, task, error))
    try:
        run = factory.store.finish_tasks(task.run_id, batch)
    except ResourceModifiedError:
        logger.info(
            "task %s of run %s changed meanwhile; leaving it", task.task_id, task.run_id
        )
        return False
    if task.kind == TaskKind.BUILD:
        record_build_result(factory, task)
    if status == TaskStatus.SUCCEEDED:
        logger.info("task %s of run %s succeeded", task.task_id, task.run_id)
    else:
        logger.warning(
            "task %s of run %s ended %s: %s", task.task_id, task.run_id, status, error
        )
    if run is not None and run.finished >= run.total:
        factory.queues.send(FINALIZE_QUEUE, StageMessage(run_id=task.run_id))
    for finished in batch:
        if finished.kind == TaskKind.COPY and finished.lab == FACTORY_LAB:
            settle_layered_builds(factory, finished)
    return True


def settle_layered_builds(factory: Factory, factory_copy: Task) -> None:
    """Start or skip the builds waiting for a parent version's copy into the factory lab.

    A succeeded copy sends each waiting build its first message. Any other
    end skips them, and through ``finish`` their copies and the builds
    layered on them in turn.
    """
    waiting = [
        task
        for task in factory.store.list_tasks(factory_copy.run_id)
        if task.kind == TaskKind.BUILD
        and task.depends_on == factory_copy.task_id
        and task.status == TaskStatus.PENDING
    ]
    for build in waiting:
        if factory_copy.status == TaskStatus.SUCCEEDED:
            factory.queues.send(BUILD_QUEUE, StageMessage.for_task(build))
            continue
        reason = (
            f"not built: version {factory_copy.version} of {factory_copy.image}, "
            f"its base image, did not reach the factory lab ({factory_copy.error})"
        )
        finish(factory, build, TaskStatus.SKIPPED, reason)


def _waiting_copies(factory: Factory, build: Task, error: str) -> list[Task]:
    copies = []
    for lab in build_targets(build):
        try:
            copy = factory.store.get_task(build.run_id, copy_task_id(build.image, lab))
        except RunNotFoundError:
            continue
        if copy.status in (TaskStatus.PENDING, TaskStatus.RUNNING):
            copy.status = TaskStatus.SKIPPED
            copy.error = (
                f"not copied: the build of {build.image} did not succeed ({error})"
            )
            copy.finished_at = factory.now()
            copies.append(copy)
    return copies


def build_targets(build: Task) -> list[str]:
    if not build.definition:
        return []
    targets = json.loads(build.definition).get("targets", [])
    return [str(t) for t in targets]


def is_stale(task: Task, message: StageMessage) -> bool:
    """Whether ``message`` is left over from a duplicate chain of monitor messages."""
    if message.check < task.checks:
        logger.debug(
            "dropped a stale message for task %s (check %d of %d)",
            task.task_id,
            message.check,
            task.checks,
        )
        return True
    return False


def check_later(factory: Factory, task: Task, queue: str) -> None:
    """Send ``task`` a message after the monitor interval to check on it again.

    Counting the check on the task first (an ETag-conditioned write) lets only
    one of two duplicate chains go on: the other's write fails, and its later
    messages are stale.
    """
    task.checks += 1
    factory.store.save_task(task)
    factory.queues.send(
        queue, StageMessage.for_task(task), factory.settings.monitor_interval_seconds
    )


def resume_run(factory: Factory, run: Run) -> int:
    """Send a message for every task of a running run that can make progress.

    Used after a crash between planning and sending, and by the watchdog; the
    handlers ignore messages for tasks that are already done or in progress.
    Returns how many messages were sent.
    """
    sent = 0
    tasks = factory.store.list_tasks(run.run_id)
    built = {t.task_id for t in tasks if t.status == TaskStatus.SUCCEEDED}
    for task in tasks:
        if task.status not in (TaskStatus.PENDING, TaskStatus.RUNNING):
            continue
        message = StageMessage.for_task(task)
        if task.kind == TaskKind.BUILD and task.depends_on not in ("", *built):
            continue  # a layered build waits for its base image's factory copy
        if task.kind == TaskKind.BUILD:
            queue = (
                CAPTURE_QUEUE
                if task.phase in ("generalized", "copying")
                else BUILD_QUEUE
            )
            factory.queues.send(queue, message)
            sent += 1
        elif task.kind == TaskKind.RETIRE:
            factory.queues.send(RETIRE_QUEUE, message)
            sent += 1
        elif not task.depends_on or task.depends_on in built:
            factory.queues.send(DISTRIBUTE_QUEUE, message)
            sent += 1
    _settle_ended_factory_copies(factory, tasks)
    if run.status == RunStatus.RUNNING and all(
        TaskStatus(t.status).is_final for t in tasks
    ):
        factory.queues.send(FINALIZE_QUEUE, StageMessage(run_id=run.run_id))
    return sent


def _settle_ended_factory_copies(factory: Factory, tasks: list[Task]) -> None:
    """Skip layered builds still waiting for a factory copy that ended without success.

    ``finish`` skips them when the copy ends; this repairs a crash in between.
    """
    ended = {
        t.task_id
        for t in tasks
        if t.kind == TaskKind.COPY
        and t.lab == FACTORY_LAB
        and TaskStatus(t.status).is_final
        and t.status != TaskStatus.SUCCEEDED
    }
    waited_for = {
        t.depends_on
        for t in tasks
        if t.status == TaskStatus.PENDING and t.depends_on in ended
    }
    for task_id in sorted(waited_for):
        copy = next(t for t in tasks if t.task_id == task_id)
        settle_layered_builds(factory, copy)


def fail_run(factory: Factory, run_id: str, error: str) -> Run:
    """End a run that has not ended yet as failed, with ``error``; return the run.

    Sends the run's notifications when this call is the one that ended it.
    """
    ended = False

    def change(run: Run) -> bool:
        nonlocal ended
        ended = not RunStatus(run.status).is_final
        if ended:
            run.status = RunStatus.FAILED
            run.error = error
            run.finished_at = factory.now()
        return ended

    run = factory.store.update_run(run_id, change)
    if ended:
        logger.error("run %s failed: %s", run_id, error)
        run_ended(factory, run)
    return run
