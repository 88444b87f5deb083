"""Timers: the hourly check for images due for a scheduled refresh."""

from __future__ import annotations

import azure.functions as func

from shared.context import get_factory
from shared.refresh import run_refresh

bp = func.Blueprint()

# Every hour on the hour (NCRONTAB, seconds first, UTC). Each image's own
# refresh_days decides whether it is rebuilt; the hourly check only looks.
REFRESH_SCHEDULE = "0 0 * * * *"


@bp.function_name("refresh")
@bp.timer_trigger(arg_name="timer", schedule=REFRESH_SCHEDULE, use_monitor=True)
def refresh(timer: func.TimerRequest) -> None:
    run_refresh(get_factory())
