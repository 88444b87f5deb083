"""The watchdog: no run stays unfinished forever.

A run whose state has not changed for ``FACTORY_WATCHDOG_STALL_MINUTES`` is
resumed: every task that can make progress gets a message again (the
handlers ignore repeats). A run still unfinished past
``FACTORY_RUN_DEADLINE_HOURS`` after it started is failed with the reason,
and its open tasks stop and clean up on their next delivery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from shared import telemetry
from shared.context import Factory
from shared.models import Run, RunStatus
from shared.pipeline.tasks import fail_run, resume_run
from shared.queues import PLAN_QUEUE, StageMessage

logger = logging.getLogger(__name__)

RUNS_EXAMINED = 500


@dataclass
class WatchdogReport:
    """Run ids that one watchdog pass resumed or failed."""

    resumed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def run_watchdog(factory: Factory) -> WatchdogReport:
    report = WatchdogReport()
    stall = timedelta(minutes=factory.settings.watchdog_stall_minutes)
    deadline = timedelta(hours=factory.settings.run_deadline_hours)
    now = factory.now()
    for run in factory.store.list_runs(RUNS_EXAMINED):
        if RunStatus(run.status).is_final:
            continue
        if now - run.created_at > deadline:
            _fail(factory, run, deadline)
            report.failed.append(run.run_id)
            continue
        last = factory.store.last_activity(run.run_id) or run.created_at
        if now - last < stall:
            continue
        minutes = int((now - last).total_seconds() // 60)
        if run.status in (RunStatus.QUEUED, RunStatus.PLANNING):
            factory.queues.send(PLAN_QUEUE, StageMessage(run_id=run.run_id))
            sent = 1
        else:
            sent = resume_run(factory, run)
        logger.warning(
            "run %s made no progress for %d minutes; resumed %d of its steps",
            run.run_id,
            minutes,
            sent,
        )
        report.resumed.append(run.run_id)
    return report


def _fail(factory: Factory, run: Run, deadline: timedelta) -> None:
    hours = deadline.total_seconds() / 3600
    with telemetry.watch_run_end(factory, run.run_id):
        run = fail_run(
            factory,
            run.run_id,
            f"the run did not finish within {hours:g} hours of its start",
        )
    # Wake the open tasks so that they delete what they created.
    resume_run(factory, run)
