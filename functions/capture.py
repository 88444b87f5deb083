"""The capture stage, triggered by the capture queue."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION, run_stage
from shared.queues import CAPTURE_QUEUE

bp = func.Blueprint()


@bp.function_name("capture")
@bp.queue_trigger(
    arg_name="msg", queue_name=CAPTURE_QUEUE, connection=STORAGE_CONNECTION
)
def capture(msg: func.QueueMessage) -> None:
    run_stage(CAPTURE_QUEUE, msg)
