"""Messages that exhausted their deliveries: mark their task or run failed, with the reason.

The Functions host moves a message to ``<queue>-poison`` after
``maxDequeueCount`` failed deliveries. Nothing is lost silently: the task (or,
for plan and finalize, the run) ends failed, naming the queue and the last
error the adapter recorded.
"""

from __future__ import annotations

import logging

from shared.config import parse_resource_id
from shared.context import Factory
from shared.errors import RunNotFoundError
from shared.models import Run, RunStatus, TaskKind, TaskStatus
from shared.pipeline.finalize import final_status
from shared.pipeline.tasks import finish
from shared.queues import FINALIZE_QUEUE, PLAN_QUEUE, StageMessage

logger = logging.getLogger(__name__)


def handle_poison(factory: Factory, queue: str, body: str) -> None:
    try:
        message = StageMessage.from_json(body)
    except ValueError:
        logger.error(
            "poison message on %s is not a stage message; dropped: %r",
            queue,
            body[:200],
        )
        return
    reason = f"gave up after repeated failures (message moved to {queue}-poison)"
    try:
        if queue in (PLAN_QUEUE, FINALIZE_QUEUE) or not message.task_id:
            _fail_run(factory, message.run_id, queue, reason)
            return
        task = factory.store.get_task(message.run_id, message.task_id)
    except RunNotFoundError:
        logger.error(
            "poison message on %s names an unknown run or task: %s", queue, body
        )
        return
    if TaskStatus(task.status).is_final:
        return
    if task.kind == TaskKind.BUILD and task.vm_name:
        factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
    last_error = f"; last error: {task.error}" if task.error else ""
    finish(factory, task, TaskStatus.FAILED, reason + last_error)


def _fail_run(factory: Factory, run_id: str, queue: str, reason: str) -> None:
    def change(run: Run) -> bool:
        if RunStatus(run.status).is_final:
            return False
        if queue == FINALIZE_QUEUE and run.finished >= run.total:
            run.status = final_status(run)
        else:
            run.status = RunStatus.FAILED
            run.error = f"{queue}: {reason}"
        run.finished_at = factory.now()
        return True

    run = factory.store.update_run(run_id, change)
    logger.error(
        "run %s ended %s after a poison message on %s", run_id, run.status, queue
    )
