"""The distribute stage, triggered by the distribute queue."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION, run_stage
from shared.queues import DISTRIBUTE_QUEUE

bp = func.Blueprint()


@bp.function_name("distribute")
@bp.queue_trigger(
    arg_name="msg", queue_name=DISTRIBUTE_QUEUE, connection=STORAGE_CONNECTION
)
def distribute(msg: func.QueueMessage) -> None:
    run_stage(DISTRIBUTE_QUEUE, msg)
