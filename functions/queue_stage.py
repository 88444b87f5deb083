"""The shared body of the stage queue triggers."""

from __future__ import annotations

import azure.functions as func

from functions.observability import start_telemetry
from shared.context import get_factory
from shared.pipeline.dispatch import process_stage_message

STORAGE_CONNECTION = "AzureWebJobsStorage"


def run_stage(queue: str, msg: func.QueueMessage) -> None:
    """Handle one delivery of a stage message; an exception makes the host deliver it again."""
    start_telemetry()
    body = msg.get_body().decode("utf-8", errors="replace")
    process_stage_message(get_factory(), queue, body, msg.dequeue_count or 1)
