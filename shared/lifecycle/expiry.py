"""The expiry run: retention, lifetime and orphan clean-up on a schedule.

It is an ordinary run that builds nothing (``retire_only``), so its
retirements are recorded, counted and retried like any other task, and the
HTTP API and status page show it.
"""

from __future__ import annotations

import logging

from shared.context import Factory
from shared.models import Run, Trigger
from shared.pipeline.runs import new_run_id, start_run

logger = logging.getLogger(__name__)


def start_expiry_run(factory: Factory) -> Run:
    run = Run(
        run_id=new_run_id(),
        trigger=Trigger.EXPIRY,
        ref=f"refs/heads/{factory.settings.config_branch}",
        requested_by="expiry timer",
        retire_only=True,
    )
    return start_run(factory, run)
