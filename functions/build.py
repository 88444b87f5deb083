"""The build stage, triggered by the build queue."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION, run_stage
from shared.queues import BUILD_QUEUE

bp = func.Blueprint()


@bp.function_name("build")
@bp.queue_trigger(arg_name="msg", queue_name=BUILD_QUEUE, connection=STORAGE_CONNECTION)
def build(msg: func.QueueMessage) -> None:
    run_stage(BUILD_QUEUE, msg)
