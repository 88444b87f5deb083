"""Route a stage message to its handler and apply the error policy.

A retryable error (throttling, a 5xx, a conflict with an operation in
flight) is recorded on the task and raised again, so the queue delivers the
message again after the host's visibility timeout, and moves it to the
poison queue after ``maxDequeueCount`` tries. A permanent error (a rejected
request, a missing role) fails only that task, at once, with the error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from azure.core.exceptions import ResourceModifiedError

from shared import telemetry
from shared.config import parse_resource_id
from shared.context import Factory
from shared.errors import FactoryError, RunNotFoundError
from shared.logcontext import log_context
from shared.models import TaskKind, TaskStatus
from shared.pipeline.build import handle_build
from shared.pipeline.capture import handle_capture
from shared.pipeline.distribute import handle_distribute
from shared.pipeline.finalize import handle_finalize
from shared.pipeline.plan import handle_plan
from shared.pipeline.retire import handle_retire
from shared.pipeline.tasks import fail_run, finish
from shared.queues import (
    BUILD_QUEUE,
    CAPTURE_QUEUE,
    DISTRIBUTE_QUEUE,
    FINALIZE_QUEUE,
    PLAN_QUEUE,
    RETIRE_QUEUE,
    StageMessage,
)

logger = logging.getLogger(__name__)

Handler = Callable[[Factory, StageMessage], None]
HANDLERS: dict[str, Handler] = {
    PLAN_QUEUE: handle_plan,
    BUILD_QUEUE: handle_build,
    CAPTURE_QUEUE: handle_capture,
    DISTRIBUTE_QUEUE: handle_distribute,
    FINALIZE_QUEUE: handle_finalize,
    RETIRE_QUEUE: handle_retire,
}


def process_stage_message(
    factory: Factory, queue: str, body: str, dequeue_count: int
) -> None:
    """Run the handler of ``queue`` for one message; raise only to ask for redelivery."""
    try:
        message = StageMessage.from_json(body)
    except ValueError as exc:
        logger.error("dropped an invalid message on %s: %s", queue, exc)
        return
    stage = queue.removeprefix("factory-")
    with (
        log_context(run_id=message.run_id, task_id=message.task_id, stage=stage),
        telemetry.stage_invocation(factory, stage, message, dequeue_count),
    ):
        _dispatch(factory, queue, message, dequeue_count)


def _dispatch(
    factory: Factory, queue: str, message: StageMessage, dequeue_count: int
) -> None:
    try:
        HANDLERS[queue](factory, message)
    except RunNotFoundError as exc:
        logger.error("dropped a message on %s: %s", queue, exc)
    except ResourceModifiedError:
        # Another delivery of the same task wrote first and carries the work on.
        logger.info(
            "%s: task %s of run %s changed under this delivery; leaving it to the other",
            queue,
            message.task_id or "-",
            message.run_id,
        )
    except FactoryError as exc:
        if exc.retryable:
            logger.warning(
                "%s: run %s task %s failed on delivery %d, will retry: %s",
                queue,
                message.run_id,
                message.task_id or "-",
                dequeue_count,
                exc,
            )
            _record_error(factory, message, str(exc))
            raise
        _fail(factory, queue, message, str(exc))


def _record_error(factory: Factory, message: StageMessage, error: str) -> None:
    if not message.task_id:
        return
    try:
        task = factory.store.get_task(message.run_id, message.task_id)
        task.error = error
        factory.store.save_task(task)
    except (FactoryError, ResourceModifiedError):
        logger.debug("could not record the error on task %s", message.task_id)


def _fail(factory: Factory, queue: str, message: StageMessage, error: str) -> None:
    if not message.task_id:
        fail_run(factory, message.run_id, f"{queue}: {error}")
        return
    task = factory.store.get_task(message.run_id, message.task_id)
    if TaskStatus(task.status).is_final:
        return
    if task.kind == TaskKind.BUILD and task.vm_name:
        try:
            factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
        except FactoryError as exc:
            logger.warning("could not delete factory VM %s: %s", task.vm_name, exc)
    finish(factory, task, TaskStatus.FAILED, error)
