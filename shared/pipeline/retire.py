"""Retire stage: delete one resource the retention rules named, unless it is in use.

A custom image that a VM in its lab still uses is kept: the task ends
succeeded in phase ``retained_in_use`` with the VMs named, and the next
run's retention phase considers it again, so it goes once the VMs are gone.
"""

from __future__ import annotations

import contextlib
import logging

from azure.core.exceptions import ResourceNotFoundError

from shared.config import parse_resource_id
from shared.context import Factory
from shared.errors import AzureOperationError
from shared.lifecycle.inventory import upload_run_ended
from shared.models import RetireTarget, RunStatus, Task, TaskStatus
from shared.pipeline.blobcopy import blob_client
from shared.pipeline.tasks import finish
from shared.queues import StageMessage

logger = logging.getLogger(__name__)


def handle_retire(factory: Factory, message: StageMessage) -> None:
    task = factory.store.get_task(message.run_id, message.task_id)
    if TaskStatus(task.status).is_final:
        return
    run = factory.store.get_run(task.run_id)
    if RunStatus(run.status).stops_tasks:
        finish(factory, task, TaskStatus.CANCELLED, f"the run is {run.status}")
        return
    if task.target == RetireTarget.CUSTOM_IMAGE:
        _retire_custom_image(factory, task)
    elif task.target == RetireTarget.VHD:
        _retire_vhd(factory, task)
    elif task.target == RetireTarget.UPLOAD:
        _retire_upload(factory, task)
    elif task.target == RetireTarget.VM:
        factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
        logger.info(
            "deleted factory VM %s in %s: %s", task.vm_name, task.lab_id, task.reason
        )
        task.phase = "retired"
        finish(factory, task, TaskStatus.SUCCEEDED)
    else:
        finish(
            factory, task, TaskStatus.FAILED, f"unknown retire target {task.target!r}"
        )


def _retire_custom_image(factory: Factory, task: Task) -> None:
    lab = parse_resource_id(task.lab_id)
    name = task.custom_image_name.lower()
    users = sorted(
        vm.name
        for vm in factory.labs.list_vms(lab)
        if (vm.custom_image_id or "").rstrip("/").rsplit("/", 1)[-1].lower() == name
    )
    if users:
        task.phase = "retained_in_use"
        task.reason = f"{task.reason}; kept because VMs use it: {', '.join(users)}"
        logger.info(
            "kept custom image %s in lab %s: in use by %s",
            task.custom_image_name,
            lab.name,
            ", ".join(users),
        )
        finish(factory, task, TaskStatus.SUCCEEDED)
        return
    factory.labs.delete_custom_image(lab, task.custom_image_name)
    factory.store.remove_lab_image(task.lab_id, task.image, task.version)
    logger.info(
        "deleted custom image %s/customimages/%s: %s",
        task.lab_id,
        task.custom_image_name,
        task.reason,
    )
    task.phase = "retired"
    finish(factory, task, TaskStatus.SUCCEEDED)


def _retire_upload(factory: Factory, task: Task) -> None:
    """Delete a leftover upload, after checking again that it is the factory's and unused.

    The blob may have been deleted, rewritten or replaced since planning.
    The ETag condition on the delete covers changes after this check. When
    the app may not delete in the lab's storage, the VHD stays and the run
    does not fail over it.
    """
    url = task.upload_blob_url
    try:
        found = factory.uploads.properties(url)
        if found is None:
            task.phase = "already_gone"
        elif not found.factory_owned or not upload_run_ended(
            factory, found.run_id, task.run_id
        ):
            task.phase = "kept_changed"
            task.reason = f"{task.reason}; kept because the blob changed since planning"
        elif factory.uploads.delete(url, found.etag):
            task.phase = "retired"
            logger.info("deleted upload VHD %s: %s", url, task.reason)
        else:
            task.phase = "already_gone"
    except AzureOperationError as exc:
        if exc.retryable:
            raise
        task.phase = "kept_changed" if exc.status == 412 else "kept_no_access"
        task.reason = f"{task.reason}; kept: {exc}"
        logger.warning("upload VHD %s kept: %s", url, exc)
    finish(factory, task, TaskStatus.SUCCEEDED)


def _retire_vhd(factory: Factory, task: Task) -> None:
    container = factory.storage.blobs.get_container_client(
        factory.settings.image_store_container
    )
    blob_name = f"{task.image}/{task.version}.vhd"
    with contextlib.suppress(ResourceNotFoundError):
        container.get_blob_client(blob_name).delete_blob()
    factory.store.set_version_state(task.image, task.version, "retired")
    logger.info(
        "deleted image store VHD %s: %s",
        blob_client(task.vhd_url).blob_name if task.vhd_url else blob_name,
        task.reason,
    )
    task.phase = "retired"
    finish(factory, task, TaskStatus.SUCCEEDED)
