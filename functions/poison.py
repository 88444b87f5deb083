"""One trigger per poison queue: a message that exhausted its deliveries fails its task."""

from __future__ import annotations

import azure.functions as func

from functions.observability import observed
from functions.queue_stage import STORAGE_CONNECTION
from shared import telemetry
from shared.context import get_factory
from shared.pipeline.poison import handle_poison
from shared.queues import POISON_SUFFIX, STAGE_QUEUES, StageMessage

bp = func.Blueprint()


def _register(queue: str) -> None:
    name = queue.replace("factory-", "") + "_poison"

    @bp.function_name(name)
    @bp.queue_trigger(
        arg_name="msg", queue_name=queue + POISON_SUFFIX, connection=STORAGE_CONNECTION
    )
    def handle(msg: func.QueueMessage) -> None:
        body = msg.get_body().decode("utf-8", errors="replace")
        run_id = _run_id_of(body)
        with observed(name, run_id):
            factory = get_factory()
            with telemetry.watch_run_end(factory, run_id):
                handle_poison(factory, queue, body)


def _run_id_of(body: str) -> str:
    try:
        return StageMessage.from_json(body).run_id
    except ValueError:
        return ""  # handle_poison logs and drops the message


for _queue in STAGE_QUEUES:
    _register(_queue)
