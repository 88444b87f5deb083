"""Distribute stage: one copy of one image version into one team lab.

Steps, each safe to repeat: ask the lab for an upload URI (a SAS into the
lab's own storage, because DevTest Labs creates custom images only from
there), copy the VHD server-side from the image store, create the custom
image from it and wait until it is ready, then delete the uploaded VHD,
which the custom image no longer needs.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.config import LabRef, parse_resource_id
from shared.context import Factory
from shared.errors import AzureOperationError
from shared.labstorage import upload_metadata
from shared.lifecycle.retention import (
    FACTORY_TAG,
    FACTORY_TAG_VALUE,
    IMAGE_TAG,
    VERSION_TAG,
)
from shared.models import RunStatus, Task, TaskStatus
from shared.pipeline.blobcopy import (
    MAX_COPY_ATTEMPTS,
    CopyState,
    blob_client,
    blob_url_without_query,
    copy_state,
    start_copy,
)
from shared.pipeline.capture import image_store_blob
from shared.pipeline.tasks import check_later, finish, is_stale
from shared.queues import DISTRIBUTE_QUEUE, StageMessage

logger = logging.getLogger(__name__)

# Long enough for Azure to finish a server-side copy of a large VHD (an
# estimate: tens of minutes for a 30 to 130 GB disk), short enough to limit
# what a leaked URL exposes.
SOURCE_SAS_LIFETIME = timedelta(hours=2)


def handle_distribute(factory: Factory, message: StageMessage) -> None:
    task = factory.store.get_task(message.run_id, message.task_id)
    if TaskStatus(task.status).is_final or is_stale(task, message):
        return
    run = factory.store.get_run(task.run_id)
    if RunStatus(run.status).stops_tasks:
        _cancel(factory, task)
        return
    lab = parse_resource_id(task.lab_id)
    if task.phase == "" and factory.store.lab_holds(
        task.lab_id, task.image, task.version
    ):
        # Another run of the same definition placed this version here already.
        task.phase = "already_in_lab"
        task.reason = f"lab {lab.name} holds version {task.version} already"
        finish(factory, task, TaskStatus.SUCCEEDED)
        return
    if task.phase == "":
        task.status = TaskStatus.RUNNING
        task.started_at = factory.now()
        task.phase = "uploading"
        task = factory.store.save_task(task)

    if task.phase == "uploading":
        _start_upload(factory, task, lab)
        task.phase = "copying"
        factory.store.save_task(task)
    if task.phase == "copying":
        if not _upload_done(factory, task, lab, message):
            return
        # Claim the step before touching Azure, so that a second delivery of
        # the same message stops here instead of sending a second PUT. If the
        # PUT fails, the check in phase imaging finds no image and starts over.
        task.phase = "imaging"
        task = factory.store.save_task(task)
        task.custom_image_id = factory.labs.create_custom_image(
            lab,
            task.custom_image_name,
            task.upload_blob_url,
            task.os_type,
            f"Golden image {task.image}, version {task.version} (commit {run.commit[:12]})",
            _tags(task, run.commit),
        )
        check_later(factory, task, DISTRIBUTE_QUEUE)
        return
    if task.phase == "imaging":
        _check_image(factory, task, lab, message)


def _start_upload(factory: Factory, task: Task, lab: LabRef) -> None:
    upload_url = factory.labs.upload_uri(lab, f"{task.custom_image_name}.vhd")
    source = factory.storage.read_sas_url(
        factory.settings.image_store_container,
        image_store_blob(task),
        SOURCE_SAS_LIFETIME,
    )
    task.copy_attempts += 1
    start_copy(blob_client(upload_url), source, upload_metadata(task.run_id))
    task.upload_blob_url = blob_url_without_query(upload_url)
    logger.info(
        "run %s: copying %s %s into lab %s",
        task.run_id,
        task.image,
        task.version,
        lab.name,
    )


def _upload_done(
    factory: Factory, task: Task, lab: LabRef, message: StageMessage
) -> bool:
    upload_url = factory.labs.upload_uri(lab, f"{task.custom_image_name}.vhd")
    state, detail = copy_state(blob_client(upload_url))
    if state == CopyState.SUCCESS:
        return True
    if state == CopyState.PENDING:
        check_later(factory, task, DISTRIBUTE_QUEUE)
        return False
    if task.copy_attempts >= MAX_COPY_ATTEMPTS:
        reason = f"copying the VHD into lab {lab.name} failed {task.copy_attempts} times: {detail}"
        _delete_upload(factory, task, lab)
        finish(factory, task, TaskStatus.FAILED, reason)
        return False
    logger.warning(
        "run %s: copy into lab %s failed (%s); starting again",
        task.run_id,
        lab.name,
        detail,
    )
    task.phase = "uploading"
    factory.store.save_task(task)
    factory.queues.send(DISTRIBUTE_QUEUE, StageMessage.for_task(task))
    return False


def _check_image(
    factory: Factory, task: Task, lab: LabRef, message: StageMessage
) -> None:
    image = factory.labs.get_custom_image(lab, task.custom_image_name)
    if image is None:
        # Lost between creation and this check: create it again.
        task.phase = "copying"
        factory.store.save_task(task)
        factory.queues.send(DISTRIBUTE_QUEUE, StageMessage.for_task(task))
        return
    state = image.provisioning_state or ""
    if state == "Succeeded":
        _delete_upload(factory, task, lab)
        factory.store.record_lab_image(
            task.lab_id,
            task.image,
            task.version,
            image.id or task.custom_image_id,
            task.run_id,
        )
        task.custom_image_id = image.id or task.custom_image_id
        task.phase = "in_lab"
        finish(factory, task, TaskStatus.SUCCEEDED)
        return
    if state == "Failed":
        _delete_upload(factory, task, lab)
        factory.labs.delete_custom_image(lab, task.custom_image_name)
        finish(
            factory,
            task,
            TaskStatus.FAILED,
            f"creating custom image {task.custom_image_name} in lab {lab.name} failed "
            "(provisioning state Failed); the lab's activity log has the cause. "
            "Retry the run's failed tasks once it is fixed",
        )
        return
    check_later(factory, task, DISTRIBUTE_QUEUE)


def _delete_upload(factory: Factory, task: Task, lab: LabRef) -> None:
    """Delete the uploaded VHD, because the custom image keeps its own copy of the bytes.

    A failed delete is logged and does not fail the copy. The retention sweep
    at the end of this run or a later one deletes the VHD instead.
    """
    url = task.upload_blob_url or blob_url_without_query(
        factory.labs.upload_uri(lab, f"{task.custom_image_name}.vhd")
    )
    try:
        factory.uploads.delete(url)
    except AzureOperationError as exc:
        logger.warning(
            "run %s: deleting upload blob %s in lab %s failed; the retention sweep retries: %s",
            task.run_id,
            url,
            lab.name,
            exc,
        )


def _cancel(factory: Factory, task: Task) -> None:
    lab = parse_resource_id(task.lab_id)
    if task.phase in ("copying", "imaging"):
        _delete_upload(factory, task, lab)
    if task.phase == "imaging":
        factory.labs.delete_custom_image(lab, task.custom_image_name)
    finish(factory, task, TaskStatus.CANCELLED, "the run was stopped")


def _tags(task: Task, commit: str) -> dict[str, str]:
    return {
        FACTORY_TAG: FACTORY_TAG_VALUE,
        IMAGE_TAG: task.image,
        VERSION_TAG: task.version,
        "factory-content-hash": task.content_hash[:16],
        "factory-commit": commit[:40],
        "factory-run": task.run_id,
    }
