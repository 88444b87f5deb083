"""Queue-triggered sample functions: one sync with QueueMessage, one async with str."""

from __future__ import annotations

import json
import time

import azure.functions as func
from sample_records import record

bp = func.Blueprint()


@bp.queue_trigger(
    arg_name="msg", queue_name="%SAMPLE_WORK_QUEUE%", connection="AzureWebJobsStorage"
)
def process_work(msg: func.QueueMessage) -> None:
    body = msg.get_body().decode("utf-8")
    record(
        "process_work",
        id=msg.id,
        body=body,
        dequeue_count=msg.dequeue_count,
        has_insertion_time=msg.insertion_time is not None,
        has_expiration_time=msg.expiration_time is not None,
        has_next_visible_time=msg.time_next_visible is not None,
        has_pop_receipt=bool(msg.pop_receipt),
    )
    request = json.loads(body)
    time.sleep(request.get("sleep", 0))
    if request.get("fail"):
        raise RuntimeError("the message asks to fail")


@bp.queue_trigger(arg_name="text", queue_name="%SAMPLE_TEXT_QUEUE%", connection="")
async def process_text(text: str) -> None:
    record("process_text", body=text)
