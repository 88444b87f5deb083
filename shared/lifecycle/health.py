"""Auto-disable: an image whose build fails N times in a row stops being built.

Scheduled refreshes and pushes that leave its definition unchanged skip a
disabled image; a manual run that names it, or a change to its definition
(a new content hash), enables it again. ``FACTORY_AUTO_DISABLE_AFTER`` sets N.
"""

from __future__ import annotations

import logging

from shared.context import Factory
from shared.models import Task, TaskStatus

logger = logging.getLogger(__name__)


def record_build_result(factory: Factory, task: Task) -> None:
    """Count a build's failure towards disabling its image, or clear the count."""
    if task.status == TaskStatus.SUCCEEDED:
        factory.store.update_image_health(task.image, failures=0, disabled_hash="")
        return
    if task.status != TaskStatus.FAILED:
        return
    health = factory.store.get_image_health(task.image)
    failures = health.failures + 1 if health.content_hash == task.content_hash else 1
    limit = factory.settings.auto_disable_after
    disabled_hash = task.content_hash if failures >= limit else ""
    factory.store.update_image_health(
        task.image,
        failures=failures,
        disabled_hash=disabled_hash,
        content_hash=task.content_hash,
        last_error=task.error,
    )
    if disabled_hash:
        logger.error(
            "image %s disabled after %d failed builds in a row; a manual run or a "
            "change to its definition enables it again. Last error: %s",
            task.image,
            failures,
            task.error,
        )


def disabled_images(factory: Factory, hashes: dict[str, str]) -> set[str]:
    """Return the images, among ``hashes`` (name to content hash), that are disabled."""
    disabled = set()
    for name, content_hash in hashes.items():
        health = factory.store.get_image_health(name)
        if health.disabled_hash and health.disabled_hash == content_hash:
            disabled.add(name)
    return disabled


def enable(factory: Factory, names: list[str]) -> None:
    for name in names:
        health = factory.store.get_image_health(name)
        if health.disabled_hash:
            factory.store.update_image_health(name, failures=0, disabled_hash="")
            logger.info("image %s enabled again by a manual run", name)
