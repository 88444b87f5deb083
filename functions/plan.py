"""The plan stage, triggered by the plan queue."""

from __future__ import annotations

import azure.functions as func

from functions.queue_stage import STORAGE_CONNECTION, run_stage
from shared.queues import PLAN_QUEUE

bp = func.Blueprint()


@bp.function_name("plan")
@bp.queue_trigger(arg_name="msg", queue_name=PLAN_QUEUE, connection=STORAGE_CONNECTION)
def plan(msg: func.QueueMessage) -> None:
    run_stage(PLAN_QUEUE, msg)
