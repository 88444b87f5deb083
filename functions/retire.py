"""The retire stage, triggered by the retire queue."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION, run_stage
from shared.queues import RETIRE_QUEUE

bp = func.Blueprint()


@bp.function_name("retire")
@bp.queue_trigger(
    arg_name="msg", queue_name=RETIRE_QUEUE, connection=STORAGE_CONNECTION
)
def retire(msg: func.QueueMessage) -> None:
    run_stage(RETIRE_QUEUE, msg)
