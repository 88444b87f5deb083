"""Scheduled refresh: rebuild images whose newest version is older than their refresh age.

A refresh rebuilds an unchanged definition on purpose (the base image and
the packages its artifacts install move on), so the run is forced: it builds
even though a version with the same content hash exists.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.config import ConfigError, load_config_files
from shared.context import Factory
from shared.gitsource import ConfigSourceError, fetch_config
from shared.models import Run, Trigger
from shared.pipeline.runs import new_run_id, start_run

logger = logging.getLogger(__name__)


def stale_images(factory: Factory) -> tuple[str, list[str]]:
    """Return the head commit and the images due for a refresh."""
    settings = factory.settings
    snapshot = fetch_config(settings.config_source(), settings.config_branch)
    config = load_config_files(snapshot.files)
    now = factory.now()
    due = []
    for name, image in sorted(config.images.items()):
        if factory.store.get_image_health(name).disabled_hash:
            logger.info("scheduled refresh skips %s: it is disabled", name)
            continue
        versions = [
            v for v in factory.store.list_versions(name) if v.state == "available"
        ]
        if not versions:
            continue  # never built: the next push or a manual run builds it
        newest = max(v.created_at for v in versions)
        if now - newest > timedelta(days=image.refresh_days):
            due.append(name)
    return snapshot.commit, due


def run_refresh(factory: Factory) -> Run | None:
    """Start one forced run of every image due for a refresh; None when none is due."""
    try:
        commit, due = stale_images(factory)
    except (ConfigError, ConfigSourceError) as exc:
        logger.error("scheduled refresh skipped: %s", exc)
        return None
    if not due:
        logger.info("scheduled refresh: no image is due")
        return None
    run = Run(
        run_id=new_run_id(),
        trigger=Trigger.SCHEDULE,
        ref=f"refs/heads/{factory.settings.config_branch}",
        commit=commit,
        requested_by="refresh timer",
        requested_images=due,
        force=True,
    )
    logger.info("scheduled refresh of %d images: %s", len(due), ", ".join(due))
    return start_run(factory, run)
