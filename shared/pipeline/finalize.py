"""Finalize stage: the fan-in that sets a run's final status.

The last task to finish sends the finalize message (the header's counters
are updated in the same transaction as the task, so exactly one finisher
sees the count complete). A repeated delivery finds the run final already.
"""

from __future__ import annotations

import logging

from shared.context import Factory
from shared.models import Run, RunStatus
from shared.queues import StageMessage

logger = logging.getLogger(__name__)


def final_status(run: Run) -> RunStatus:
    """Succeeded when nothing failed, failed when nothing succeeded, else partially succeeded."""
    if run.failed == 0:
        return RunStatus.SUCCEEDED
    if run.succeeded == 0:
        return RunStatus.FAILED
    return RunStatus.PARTIALLY_SUCCEEDED


def handle_finalize(factory: Factory, message: StageMessage) -> None:
    def change(run: Run) -> bool:
        if RunStatus(run.status).is_final or run.status != RunStatus.RUNNING:
            return False
        if run.finished < run.total:
            logger.warning(
                "run %s: finalize before all tasks finished (%d of %d); waiting",
                run.run_id,
                run.finished,
                run.total,
            )
            return False
        run.status = final_status(run)
        run.finished_at = factory.now()
        if run.status != RunStatus.SUCCEEDED:
            run.error = f"{run.failed} of {run.total} tasks did not succeed"
        return True

    run = factory.store.update_run(message.run_id, change)
    if RunStatus(run.status).is_final:
        logger.info(
            "run %s %s: %d tasks succeeded, %d did not",
            run.run_id,
            run.status,
            run.succeeded,
            run.failed,
        )
