"""Build stage: create the factory VM, then check on it until it is generalized.

The VM carries the image's artifacts followed by the generalize artifact
(sysprep on Windows, deprovision on Linux), which shuts it down and
deallocates it: a deallocated VM whose artifacts all succeeded is ready for
capture. Each check is one queue delivery; between checks the message waits
invisible in the queue, so no function stays open while Azure works.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import string
from datetime import timedelta
from typing import Any

from azure.core.exceptions import ResourceModifiedError

from shared.config import parse_resource_id
from shared.context import Factory
from shared.labs import GENERALIZE_ARTIFACTS, BuildVmSpec
from shared.lifecycle.retention import (
    FACTORY_TAG,
    FACTORY_TAG_VALUE,
    IMAGE_TAG,
    TIMEOUT_TAG,
    VERSION_TAG,
)
from shared.models import ImageVersion, Run, RunStatus, Task, TaskStatus
from shared.pipeline.capture import send_copies
from shared.pipeline.singleflight import Claim, claim_build, holds_lock
from shared.pipeline.tasks import build_targets, check_later, finish, is_stale
from shared.planner import copy_task_id
from shared.queues import BUILD_QUEUE, CAPTURE_QUEUE, StageMessage

logger = logging.getLogger(__name__)

BUILD_USER = "factoryadmin"


def factory_vm_name(task: Task) -> str:
    """A deterministic VM name of 15 characters, the Windows computer-name limit."""
    digest = hashlib.sha256(f"{task.run_id}/{task.task_id}/{task.attempts}".encode())
    return "ifb" + digest.hexdigest()[:12]


def generate_password() -> str:
    """A one-off admin password that meets Azure's complexity rules; never stored."""
    alphabet = string.ascii_letters + string.digits + "!@#%^*-_=+"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(24))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
            and any(not c.isalnum() for c in password)
        ):
            return password


def handle_build(factory: Factory, message: StageMessage) -> None:
    task = factory.store.get_task(message.run_id, message.task_id)
    if TaskStatus(task.status).is_final or is_stale(task, message):
        return
    run = factory.store.get_run(task.run_id)
    if RunStatus(run.status).stops_tasks:
        _stop(factory, task, TaskStatus.CANCELLED, f"the run is {run.status}")
        return
    if task.phase == "" and not _base_image_ready(factory, task):
        return
    if task.phase in ("", "following") and not _claim(factory, task, run):
        return
    if task.phase in ("", "following", "creating"):
        _create_vm(factory, task)
    elif task.phase == "provisioning":
        _check_vm(factory, task, message)
    else:
        # Generalized already: the capture stage owns the task now.
        factory.queues.send(CAPTURE_QUEUE, StageMessage.for_task(task))


def _create_vm(factory: Factory, task: Task) -> None:
    lab = parse_resource_id(task.lab_id)
    definition = json.loads(task.definition)
    if task.phase in ("", "following"):
        # Claim the build before touching Azure, so a second delivery waits.
        task.status = TaskStatus.RUNNING
        task.phase = "creating"
        task.attempts += 1
        task.started_at = factory.now()
        timeout = timedelta(minutes=int(definition.get("timeout_minutes") or 120))
        task.deadline = factory.now() + timeout
        task.vm_name = factory_vm_name(task)
        try:
            task = factory.store.save_task(task)
        except ResourceModifiedError:
            logger.info(
                "build %s of run %s is claimed already", task.task_id, task.run_id
            )
            return

    if factory.labs.get_build_vm(lab, task.vm_name) is None:
        spec = _vm_spec(task, definition, _base_custom_image_id(factory, task))
        location = factory.labs.get_location(lab)
        task.vm_id = factory.labs.create_build_vm(lab, location, spec)
        logger.info(
            "run %s: creating factory VM %s for %s in lab %s",
            task.run_id,
            task.vm_name,
            task.image,
            lab.name,
        )
    task.phase = "provisioning"
    check_later(factory, task, BUILD_QUEUE)


def _base_image_ready(factory: Factory, task: Task) -> bool:
    """Return whether a layered build's base image is in the factory lab, logging why not."""
    if not task.depends_on:
        return True
    copy = factory.store.get_task(task.run_id, task.depends_on)
    if copy.status == TaskStatus.SUCCEEDED:
        return True
    logger.info(
        "run %s: build of %s waits for %s (%s)",
        task.run_id,
        task.image,
        copy.task_id,
        copy.status,
    )
    return False


def _base_custom_image_id(factory: Factory, task: Task) -> str | None:
    """Return the factory lab custom image a layered build starts from, or None.

    The copy into the factory lab names the custom image it made. Without
    that copy, the factory lab held the parent version when the run was planned.
    """
    base = json.loads(task.definition).get("base_image")
    if not base:
        return None
    name = str(base["custom_image_name"])
    if task.depends_on:
        name = factory.store.get_task(task.run_id, task.depends_on).custom_image_name
    return f"{task.lab_id}/customimages/{name}"


def _vm_spec(
    task: Task, definition: dict[str, Any], custom_image_id: str | None = None
) -> BuildVmSpec:
    os_type = task.os_type
    artifacts = [(str(name), dict(params)) for name, params in definition["artifacts"]]
    artifacts.append((GENERALIZE_ARTIFACTS[os_type], {}))
    return BuildVmSpec(
        name=task.vm_name,
        os_type=os_type,
        size=definition["size"],
        storage_type=definition.get("storage_type") or "Standard",
        gallery=None if custom_image_id else definition.get("gallery"),
        custom_image_id=custom_image_id,
        artifacts=artifacts,
        user_name=BUILD_USER,
        password=generate_password(),
        notes=f"Image factory build of {task.image} version {task.version}",
        tags={
            FACTORY_TAG: FACTORY_TAG_VALUE,
            "factory-run": task.run_id,
            IMAGE_TAG: task.image,
            VERSION_TAG: task.version,
            TIMEOUT_TAG: str(definition.get("timeout_minutes") or ""),
        },
    )


def _claim(factory: Factory, task: Task, run: Run) -> bool:
    """Take the image's build lock; False when this build does not go ahead now."""
    result = claim_build(factory, task, run)
    if result.claim == Claim.BUILD:
        return True
    if result.claim == Claim.REUSE and result.version is not None:
        _reuse(factory, task, result.version)
    elif result.claim == Claim.SUPERSEDED:
        reason = (
            f"superseded by run {result.holder_run}, which builds a newer definition"
        )
        finish(factory, task, TaskStatus.CANCELLED, reason)
    else:
        if task.phase != "following":
            task.status = TaskStatus.RUNNING
            task.phase = "following"
            task.started_at = factory.now()
            task.reason = (
                f"waiting for run {result.holder_run}, which builds the same definition"
            )
            logger.info("run %s: %s", task.run_id, task.reason)
        check_later(factory, task, BUILD_QUEUE)
    return False


def _reuse(factory: Factory, task: Task, version: ImageVersion) -> None:
    """End the build with an existing version of the same definition; copy that one."""
    for lab in build_targets(task):
        copy = factory.store.get_task(task.run_id, copy_task_id(task.image, lab))
        if copy.status == TaskStatus.PENDING:
            copy.version = version.version
            copy.custom_image_name = version.custom_image_name
            factory.store.save_task(copy)
    task.version = version.version
    task.vhd_url = version.vhd_url
    task.phase = "reused"
    task.reason = f"reused version {version.version}, built by run {version.run_id}"
    if finish(factory, task, TaskStatus.SUCCEEDED):
        send_copies(factory, task)


def _check_vm(factory: Factory, task: Task, message: StageMessage) -> None:
    lab = parse_resource_id(task.lab_id)
    holds, holder = holds_lock(factory, task)
    if not holds:
        reason = f"superseded by run {holder}, which builds a newer definition"
        _stop(factory, task, TaskStatus.CANCELLED, reason)
        return
    state = factory.labs.get_build_vm(lab, task.vm_name)
    if state is None:
        _stop(
            factory, task, TaskStatus.FAILED, f"factory VM {task.vm_name} disappeared"
        )
        return
    if state.artifacts_failed:
        reason = "artifact failed: " + "; ".join(state.artifacts_failed)
        _stop(factory, task, TaskStatus.FAILED, reason)
        return
    if state.provisioning_state == "Failed":
        _stop(
            factory,
            task,
            TaskStatus.FAILED,
            f"factory VM {task.vm_name} failed to provision",
        )
        return
    if task.deadline and factory.now() > task.deadline:
        minutes = json.loads(task.definition).get("timeout_minutes")
        _stop(
            factory, task, TaskStatus.FAILED, f"build timed out after {minutes} minutes"
        )
        return
    if state.provisioning_state == "Succeeded" and state.deallocated:
        task.phase = "generalized"
        task.vm_id = state.vm_id or task.vm_id
        task.os_disk_id = state.os_disk_id
        factory.store.save_task(task)
        factory.queues.send(CAPTURE_QUEUE, StageMessage.for_task(task))
        logger.info("run %s: %s is generalized; capturing", task.run_id, task.image)
        return
    check_later(factory, task, BUILD_QUEUE)


def _stop(factory: Factory, task: Task, status: TaskStatus, reason: str) -> None:
    """End a build that will not produce an image, deleting its VM first."""
    if task.vm_name:
        factory.labs.delete_vm(parse_resource_id(task.lab_id), task.vm_name)
    finish(factory, task, status, reason)
