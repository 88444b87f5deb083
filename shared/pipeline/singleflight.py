"""At most one build of an image at a time.

A build claims the image's lock (a table row, written with an ETag check)
before it creates a VM. Policy when the lock is held by another run's
unfinished build:

- same content hash: this build *follows* it and, when that version is
  captured, reuses it instead of building the same bytes again, so two pushes
  that arrive together make one version;
- different content hash, and this run started later: this build
  *supersedes* the holder, which notices on its next check, deletes its VM
  and ends cancelled;
- different content hash, and this run started earlier: this build is the
  one superseded, and ends cancelled.

A lock whose holder task has ended is free, so nothing has to release it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from shared.context import Factory
from shared.errors import RunNotFoundError, TransientError
from shared.models import ImageVersion, Run, Task, TaskStatus
from shared.state import BuildLock

logger = logging.getLogger(__name__)

MAX_LOCK_ATTEMPTS = 5


class Claim(StrEnum):
    BUILD = "build"
    FOLLOW = "follow"
    REUSE = "reuse"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    version: ImageVersion | None = None
    holder_run: str = ""


def claim_build(factory: Factory, task: Task, run: Run) -> ClaimResult:
    """Decide whether this build runs, follows another, reuses a version or yields."""
    existing = _reusable_version(factory, task, run)
    if existing is not None:
        return ClaimResult(Claim.REUSE, existing)

    mine = BuildLock(
        task.image, task.run_id, task.task_id, task.content_hash, run.created_at
    )
    for _ in range(MAX_LOCK_ATTEMPTS):
        lock = factory.store.get_build_lock(task.image)
        if lock is None:
            if factory.store.take_build_lock(mine, None):
                return ClaimResult(Claim.BUILD)
            continue
        if (lock.run_id, lock.task_id) == (task.run_id, task.task_id):
            return ClaimResult(Claim.BUILD)
        if not _holder_active(factory, lock):
            if factory.store.take_build_lock(mine, lock):
                return ClaimResult(Claim.BUILD)
            continue
        if lock.content_hash == task.content_hash:
            return ClaimResult(Claim.FOLLOW, holder_run=lock.run_id)
        if (run.created_at, run.run_id) > (lock.run_created_at, lock.run_id):
            if factory.store.take_build_lock(mine, lock):
                logger.info(
                    "run %s supersedes the build of %s in run %s",
                    task.run_id,
                    task.image,
                    lock.run_id,
                )
                return ClaimResult(Claim.BUILD)
            continue
        return ClaimResult(Claim.SUPERSEDED, holder_run=lock.run_id)
    raise TransientError(
        f"the build lock of {task.image} changed {MAX_LOCK_ATTEMPTS} times"
    )


def holds_lock(factory: Factory, task: Task) -> tuple[bool, str]:
    """Whether ``task`` still holds its image's lock; else the run that took it."""
    lock = factory.store.get_build_lock(task.image)
    if lock is None or (lock.run_id, lock.task_id) == (task.run_id, task.task_id):
        return True, ""
    return False, lock.run_id


def _reusable_version(factory: Factory, task: Task, run: Run) -> ImageVersion | None:
    version = factory.store.find_version(task.image, task.content_hash)
    if version is None:
        return None
    # A forced run (a refresh) wants fresh bytes: only a version built since
    # the run started, by a build it followed, will do.
    if run.force and version.created_at < run.created_at:
        return None
    return version


def _holder_active(factory: Factory, lock: BuildLock) -> bool:
    try:
        holder = factory.store.get_task(lock.run_id, lock.task_id)
    except RunNotFoundError:
        return False
    return not TaskStatus(holder.status).is_final
