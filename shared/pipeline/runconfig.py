"""Fetch the configuration a run works from."""

from __future__ import annotations

from shared.context import Factory
from shared.gitsource import ConfigSnapshot, fetch_config
from shared.models import Run


def fetch_run_config(factory: Factory, run: Run) -> ConfigSnapshot:
    """Fetch the configuration at the run's commit, or at its ref before planning pinned one."""
    settings = factory.settings
    ref = run.commit or run.ref or settings.config_branch
    return fetch_config(settings.config_source(), ref)
