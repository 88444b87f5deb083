"""Capture stage: copy the generalized VM's OS disk into the image store as a VHD.

Steps, each safe to repeat: grant read access on the managed OS disk, start
a server-side copy into the image store, wait for the copy on later
deliveries, record the image version, revoke access and delete the factory
VM, then send one distribute message per team lab that receives the image.
"""

from __future__ import annotations

import contextlib
import logging

from azure.core.exceptions import ResourceNotFoundError

from shared.config import parse_resource_id
from shared.context import Factory
from shared.models import ImageVersion, RunStatus, Task, TaskStatus
from shared.pipeline.blobcopy import (
    MAX_COPY_ATTEMPTS,
    CopyState,
    copy_state,
    start_copy,
)
from shared.pipeline.tasks import build_targets, check_later, finish, is_stale
from shared.planner import copy_task_id, custom_image_name
from shared.queues import CAPTURE_QUEUE, DISTRIBUTE_QUEUE, StageMessage

logger = logging.getLogger(__name__)


def image_store_blob(task: Task) -> str:
    """Path of a version's VHD in the image store, e.g. ``linux/ubuntu/20261204.153000.vhd``."""
    return f"{task.image}/{task.version}.vhd"


def handle_capture(factory: Factory, message: StageMessage) -> None:
    task = factory.store.get_task(message.run_id, message.task_id)
    if task.status == TaskStatus.SUCCEEDED:
        send_copies(factory, task)  # a repeat after a crash that followed finishing
        return
    if TaskStatus(task.status).is_final or is_stale(task, message):
        return
    if task.phase not in ("generalized", "copying"):
        logger.warning(
            "run %s: capture of %s arrived in phase %r; ignoring it",
            task.run_id,
            task.image,
            task.phase,
        )
        return
    container = factory.storage.blobs.get_container_client(
        factory.settings.image_store_container
    )
    destination = container.get_blob_client(image_store_blob(task))
    if RunStatus(factory.store.get_run(task.run_id).status).stops_tasks:
        # No version comes of a stopped run: drop the partial VHD and the VM.
        with contextlib.suppress(ResourceNotFoundError):
            destination.delete_blob()
        factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
        finish(factory, task, TaskStatus.CANCELLED, "the run was stopped")
        return
    if task.phase == "generalized":
        sas_url = factory.labs.grant_disk_read(task.os_disk_id)
        task.copy_attempts += 1
        state = start_copy(destination, sas_url)
        task.phase = "copying"
        task.vhd_url = destination.url
        factory.store.save_task(task)
        logger.info(
            "run %s: copying the OS disk of %s into the image store",
            task.run_id,
            task.image,
        )
    else:
        state, detail = copy_state(destination)
        if state in (CopyState.FAILED, CopyState.MISSING):
            _copy_failed(factory, task, detail)
            return

    if state == CopyState.PENDING:
        check_later(factory, task, CAPTURE_QUEUE)
        return
    _complete(factory, task)


def _copy_failed(factory: Factory, task: Task, detail: str) -> None:
    if task.copy_attempts >= MAX_COPY_ATTEMPTS:
        factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
        reason = f"copying the OS disk failed {task.copy_attempts} times: {detail}"
        finish(factory, task, TaskStatus.FAILED, reason)
        return
    logger.warning(
        "run %s: copy of %s failed (%s); starting it again",
        task.run_id,
        task.image,
        detail,
    )
    task.phase = "generalized"
    factory.store.save_task(task)
    factory.queues.send(CAPTURE_QUEUE, StageMessage.for_task(task))


def _complete(factory: Factory, task: Task) -> None:
    run = factory.store.get_run(task.run_id)
    factory.store.put_version(
        ImageVersion(
            image=task.image,
            version=task.version,
            content_hash=task.content_hash,
            os_type=task.os_type,
            vhd_url=task.vhd_url,
            commit=run.commit,
            run_id=task.run_id,
            custom_image_name=custom_image_name(task.image, task.version),
        )
    )
    factory.labs.revoke_disk_access(task.os_disk_id)
    factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
    task.phase = "captured"
    if finish(factory, task, TaskStatus.SUCCEEDED):
        send_copies(factory, task)


def send_copies(factory: Factory, build: Task) -> None:
    for lab in build_targets(build):
        copy = factory.store.get_task(build.run_id, copy_task_id(build.image, lab))
        if copy.status == TaskStatus.PENDING:
            factory.queues.send(DISTRIBUTE_QUEUE, StageMessage.for_task(copy))
