"""Timers: scheduled refresh, expiry and the watchdog (NCRONTAB, seconds first, UTC)."""

from __future__ import annotations

import azure.functions as func

from functions.observability import observed
from shared.context import get_factory
from shared.lifecycle.expiry import start_expiry_run
from shared.lifecycle.watchdog import run_watchdog
from shared.refresh import run_refresh

bp = func.Blueprint()

# Every hour on the hour. Each image's own refresh_days decides whether it
# is rebuilt; the hourly check only looks.
REFRESH_SCHEDULE = "0 0 * * * *"
# Every hour at half past: retention, maximum lifetimes and orphaned VMs.
EXPIRY_SCHEDULE = "0 30 * * * *"
# Every five minutes: resume stalled runs, fail runs past their deadline.
WATCHDOG_SCHEDULE = "0 */5 * * * *"


@bp.function_name("refresh")
@bp.timer_trigger(arg_name="timer", schedule=REFRESH_SCHEDULE, use_monitor=True)
def refresh(timer: func.TimerRequest) -> None:
    with observed("refresh"):
        run_refresh(get_factory())


@bp.function_name("expiry")
@bp.timer_trigger(arg_name="timer", schedule=EXPIRY_SCHEDULE, use_monitor=True)
def expiry(timer: func.TimerRequest) -> None:
    with observed("expiry"):
        start_expiry_run(get_factory())


@bp.function_name("watchdog")
@bp.timer_trigger(arg_name="timer", schedule=WATCHDOG_SCHEDULE, use_monitor=True)
def watchdog(timer: func.TimerRequest) -> None:
    with observed("watchdog"):
        run_watchdog(get_factory())
