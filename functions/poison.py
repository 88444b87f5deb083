"""One trigger per poison queue: a message that exhausted its deliveries fails its task."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION
from shared.context import get_factory
from shared.pipeline.poison import handle_poison
from shared.queues import POISON_SUFFIX, STAGE_QUEUES

bp = func.Blueprint()


def _register(queue: str) -> None:
    name = queue.replace("factory-", "") + "_poison"

    @bp.function_name(name)
    @bp.queue_trigger(
        arg_name="msg", queue_name=queue + POISON_SUFFIX, connection=STORAGE_CONNECTION
    )
    def handle(msg: func.QueueMessage) -> None:
        body = msg.get_body().decode("utf-8", errors="replace")
        handle_poison(get_factory(), queue, body)


for _queue in STAGE_QUEUES:
    _register(_queue)
