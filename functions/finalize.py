"""The finalize stage, triggered by the finalize queue."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION, run_stage
from shared.queues import FINALIZE_QUEUE

bp = func.Blueprint()


@bp.function_name("finalize")
@bp.queue_trigger(
    arg_name="msg", queue_name=FINALIZE_QUEUE, connection=STORAGE_CONNECTION
)
def finalize(msg: func.QueueMessage) -> None:
    run_stage(FINALIZE_QUEUE, msg)
