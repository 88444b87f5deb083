"""Start runs: from a push, a schedule or a request over HTTP."""

from __future__ import annotations

import logging
import secrets

from shared.context import Factory
from shared.models import Run, utcnow
from shared.queues import PLAN_QUEUE, StageMessage

logger = logging.getLogger(__name__)


def new_run_id() -> str:
    """Return a run id that sorts by start time, e.g. ``20261204-153000-9f2c1a``."""
    return f"{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def start_run(factory: Factory, run: Run) -> Run:
    """Record a new run and queue its planning."""
    factory.store.create_run(run)
    factory.queues.send(PLAN_QUEUE, StageMessage(run_id=run.run_id))
    logger.info(
        "run %s queued (trigger %s, ref %s, commit %s)",
        run.run_id,
        run.trigger,
        run.ref,
        run.commit or "head",
    )
    return run
