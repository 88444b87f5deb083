"""Finalize stage: the fan-in that retires what the policies say, then ends the run.

The last task to finish sends the finalize message (the header's counters
are updated in the same transaction as the task, so exactly one finisher
sees the count complete). The first time, finalize plans the run's
retirements and fans them out as retire tasks; when those are counted too,
it sets the final status. A repeated delivery finds the work done.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.config import ConfigError, load_config_files
from shared.context import Factory
from shared.errors import AzureOperationError
from shared.gitsource import ConfigSourceError
from shared.lifecycle.inventory import (
    factory_lab_images,
    factory_uploads,
    factory_vms,
    team_lab_ids,
)
from shared.lifecycle.retention import (
    LabImage,
    LabUpload,
    Retirement,
    current_content_hashes,
    plan_retirements,
)
from shared.models import RetireTarget, Run, RunStatus, Task, TaskKind
from shared.notify import run_ended
from shared.pipeline.runconfig import fetch_run_config
from shared.queues import RETIRE_QUEUE, StageMessage

logger = logging.getLogger(__name__)


def final_status(run: Run) -> RunStatus:
    """Succeeded when nothing failed, failed when nothing succeeded, else partially succeeded."""
    if run.failed == 0:
        return RunStatus.SUCCEEDED
    if run.succeeded == 0:
        return RunStatus.FAILED
    return RunStatus.PARTIALLY_SUCCEEDED


def handle_finalize(factory: Factory, message: StageMessage) -> None:
    run = factory.store.get_run(message.run_id)
    if run.status != RunStatus.RUNNING:
        return
    if run.finished < run.total:
        logger.info(
            "run %s: finalize before all tasks finished (%d of %d); waiting",
            run.run_id,
            run.finished,
            run.total,
        )
        return
    if not run.retirement_planned and start_retirement(factory, run) > 0:
        return

    def change(current: Run) -> bool:
        if current.status != RunStatus.RUNNING or current.finished < current.total:
            return False
        current.status = final_status(current)
        current.finished_at = factory.now()
        if current.status != RunStatus.SUCCEEDED:
            current.error = f"{current.failed} of {current.total} tasks did not succeed"
        return True

    ended: list[bool] = []

    def record(current: Run) -> bool:
        ended.clear()
        changed = change(current)
        ended.append(changed)
        return changed

    run = factory.store.update_run(message.run_id, record)
    if ended and ended[0]:
        run_ended(factory, run)
    if RunStatus(run.status).is_final:
        logger.info(
            "run %s %s: %d tasks succeeded, %d did not",
            run.run_id,
            run.status,
            run.succeeded,
            run.failed,
        )


def start_retirement(factory: Factory, run: Run) -> int:
    """Plan the run's retirements, add them as tasks and send them; return how many."""
    retirements = find_retirements(factory, run)
    tasks = [_retire_task(run.run_id, r) for r in retirements]
    factory.store.put_tasks(run.run_id, tasks)

    def count(current: Run) -> bool:
        if current.retirement_planned:
            return False
        current.retirement_planned = True
        current.total += len(tasks)
        return True

    factory.store.update_run(run.run_id, count)
    for task in tasks:
        factory.queues.send(RETIRE_QUEUE, StageMessage.for_task(task))
    if tasks:
        logger.info("run %s: retiring %d resources", run.run_id, len(tasks))
    return len(tasks)


def find_retirements(factory: Factory, run: Run) -> list[Retirement]:
    """Read the labs and the image store and apply the retention rules."""
    try:
        config = load_config_files(fetch_run_config(factory, run).files)
    except (ConfigError, ConfigSourceError) as exc:
        logger.error(
            "run %s: retirement skipped, configuration unreadable: %s", run.run_id, exc
        )
        return []
    lab_images: list[LabImage] = []
    uploads: list[LabUpload] = []
    for lab_id in team_lab_ids(factory, config):
        uploads += factory_uploads(factory, lab_id, run.run_id)
        try:
            lab_images += factory_lab_images(factory, lab_id)
        except AzureOperationError as exc:
            if exc.retryable:
                raise
            logger.error(
                "run %s: lab %s left out of retention: %s", run.run_id, lab_id, exc
            )
    vms = factory_vms(factory, config.factory_lab_id)
    margin = timedelta(minutes=factory.settings.orphan_margin_minutes)
    hashes = current_content_hashes(config, factory.store.find_version)
    versions = factory.store.list_versions()
    return plan_retirements(
        config, lab_images, versions, factory.now(), vms, margin, hashes, uploads
    )


def _retire_task(run_id: str, retirement: Retirement) -> Task:
    task = Task(
        run_id=run_id,
        task_id=retirement.task_id,
        kind=TaskKind.RETIRE,
        image=retirement.image,
        version=retirement.version,
        content_hash="",
        os_type="",
        lab_id=retirement.lab_id,
        target=retirement.target,
        reason=retirement.reason,
    )
    if retirement.target == RetireTarget.CUSTOM_IMAGE:
        task.custom_image_name = retirement.name
        task.lab = retirement.lab_id.rstrip("/").rsplit("/", 1)[-1]
    elif retirement.target == RetireTarget.VHD:
        task.vhd_url = retirement.name
    elif retirement.target == RetireTarget.UPLOAD:
        task.upload_blob_url = retirement.name
        task.lab = retirement.lab_id.rstrip("/").rsplit("/", 1)[-1]
    else:
        task.vm_name = retirement.name
    return task
