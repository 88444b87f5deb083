"""Timer-triggered sample functions: a per-second tick and a daily job."""

from __future__ import annotations

import azure.functions as func
from sample_records import record

bp = func.Blueprint()


@bp.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer")
def tick(timer: func.TimerRequest) -> None:
    record("tick", past_due=timer.past_due)


@bp.timer_trigger(schedule="0 0 3 * * *", arg_name="timer")
def nightly(timer: func.TimerRequest) -> None:
    record("nightly", past_due=timer.past_due, schedule_status=timer.schedule_status)
