"""Check that what the labs and the storage account hold matches the recorded runs.

The checks, each a list of problems (empty when it holds):

- every run ended, and its header's counters match its task rows;
- exactly one factory custom image per (version, lab), every one recorded
  in ``labimages`` with a version in ``images``;
- every succeeded copy has its custom image, succeeded, in its lab;
- exactly one available version per (image, content hash);
- no VM left in the factory lab (deletes still running are waited for);
- no blob left in any lab's ``-uploads`` container;
- every image store VHD belongs to a version, and every available version has its VHD;
- no message in a poison queue.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from scripts.bench.harness import FactoryHarness
from shared.models import (
    ImageVersion,
    RunStatus,
    Task,
    TaskKind,
    TaskStatus,
    from_entity,
)

FACTORY_TAG = "created-by"
FACTORY_TAG_VALUE = "image-factory"
IMAGE_TAG = "factory-image"
VERSION_TAG = "factory-version"
IMAGE_STORE_CONTAINER = "images"
UPLOADS_SUFFIX = "-uploads"
POISON_SUFFIX = "-poison"


@dataclass
class AuditReport:
    """The problems found by each check, and how much was looked at."""

    problems: dict[str, list[str]] = field(default_factory=dict)
    custom_images: int = 0
    versions: int = 0
    tasks: int = 0

    def add(self, check: str, problems: list[str]) -> None:
        self.problems.setdefault(check, []).extend(problems)

    def all_problems(self) -> list[str]:
        return [problem for found in self.problems.values() for problem in found]

    @property
    def ok(self) -> bool:
        return not self.all_problems()


def audit_factory(
    harness: FactoryHarness, run_ids: list[str], vm_delete_timeout: float = 120.0
) -> AuditReport:
    """Run every check against the harness's stack after ``run_ids`` have ended."""
    report = AuditReport()
    tasks: list[Task] = []
    for run_id in run_ids:
        run_tasks = harness.list_tasks(run_id)
        tasks += run_tasks
        report.add("run_counters", check_run_counters(harness, run_id, run_tasks))
    report.tasks = len(tasks)

    versions = _versions(harness)
    report.versions = len(versions)
    images = _factory_custom_images(harness, _copy_lab_ids(harness, tasks))
    report.custom_images = len(images)
    holdings = _lab_holdings(harness)

    report.add(
        "one_image_per_version_and_lab", check_one_image_per_version_and_lab(images)
    )
    report.add("images_recorded", check_images_recorded(images, holdings, versions))
    report.add("copies_present", check_copies_present(tasks, images, holdings))
    report.add("one_version_per_hash", check_one_version_per_hash(versions))
    report.add("no_factory_vm", check_no_factory_vm(harness, vm_delete_timeout))
    report.add("no_upload_blob", check_no_upload_blob(harness))
    report.add("image_store", check_image_store(harness, versions))
    report.add("poison_queues", check_poison_queues(harness))
    return report


def check_run_counters(
    harness: FactoryHarness, run_id: str, tasks: list[Task]
) -> list[str]:
    run = harness.get_run(run_id)
    problems = []
    if not RunStatus(run.status).is_final:
        problems.append(f"run {run_id} has not ended: {run.status}")
    finished = [t for t in tasks if TaskStatus(t.status).is_final]
    succeeded = [t for t in tasks if t.status == TaskStatus.SUCCEEDED]
    cancelled = [t for t in tasks if t.status == TaskStatus.CANCELLED]
    expected = {
        "total": len(tasks),
        "finished": len(finished),
        "succeeded": len(succeeded),
        "failed": len(finished) - len(succeeded) - len(cancelled),
        "cancelled": len(cancelled),
    }
    for name, value in expected.items():
        recorded = getattr(run, name)
        if recorded != value:
            problems.append(
                f"run {run_id}: header counts {name}={recorded}, task rows say {value}"
            )
    return problems


def check_one_image_per_version_and_lab(images: list[dict[str, Any]]) -> list[str]:
    keys = Counter((i["lab_id"].lower(), i["image"], i["version"]) for i in images)
    return [
        f"lab {lab} holds {count} custom images of {image} version {version}"
        for (lab, image, version), count in sorted(keys.items())
        if count != 1
    ]


def check_images_recorded(
    images: list[dict[str, Any]],
    holdings: set[tuple[str, str, str]],
    versions: list[ImageVersion],
) -> list[str]:
    known = {(v.image, v.version) for v in versions}
    problems = []
    for image in images:
        key = (image["lab_id"].lower(), image["image"], image["version"])
        if key not in holdings:
            problems.append(f"custom image {image['id']} is not recorded in labimages")
        if (image["image"], image["version"]) not in known:
            problems.append(f"custom image {image['id']} has no version in images")
        if image["state"] != "Succeeded":
            problems.append(f"custom image {image['id']} is {image['state']}")
    return problems


def check_copies_present(
    tasks: list[Task],
    images: list[dict[str, Any]],
    holdings: set[tuple[str, str, str]],
) -> list[str]:
    present = {(i["lab_id"].lower(), i["name"].lower()) for i in images}
    problems = []
    for task in tasks:
        if task.kind != TaskKind.COPY or task.status != TaskStatus.SUCCEEDED:
            continue
        lab = task.lab_id.lower()
        if (lab, task.custom_image_name.lower()) not in present:
            problems.append(
                f"copy {task.task_id} of run {task.run_id} succeeded, but lab "
                f"{task.lab} has no custom image {task.custom_image_name}"
            )
        if (lab, task.image, task.version) not in holdings:
            problems.append(
                f"copy {task.task_id} of run {task.run_id} succeeded, but labimages "
                "does not record it"
            )
    return problems


def check_one_version_per_hash(versions: list[ImageVersion]) -> list[str]:
    available = Counter(
        (v.image, v.content_hash) for v in versions if v.state == "available"
    )
    return [
        f"image {image} has {count} available versions of content hash {digest[:12]}"
        for (image, digest), count in sorted(available.items())
        if count != 1
    ]


def check_no_factory_vm(harness: FactoryHarness, timeout: float) -> list[str]:
    """Wait up to ``timeout`` for VM deletes in the factory lab; report VMs still there."""
    lab_id = harness.stack.emulator.factory_lab_id
    deadline = time.monotonic() + timeout
    while True:
        vms = list(harness.arm_list(f"{lab_id}/virtualmachines"))
        deleting = [vm for vm in vms if _state(vm) == "Deleting"]
        if len(deleting) < len(vms) or not vms or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    return [f"factory VM {vm['name']} is left ({_state(vm)})" for vm in vms]


def check_no_upload_blob(harness: FactoryHarness) -> list[str]:
    service = harness.blobs()
    problems = []
    for container in service.list_containers():
        if not container.name.endswith(UPLOADS_SUFFIX):
            continue
        for blob in service.get_container_client(container.name).list_blobs():
            problems.append(f"upload blob {container.name}/{blob.name} is left")
    return problems


def check_image_store(
    harness: FactoryHarness, versions: list[ImageVersion]
) -> list[str]:
    client = harness.blobs().get_container_client(IMAGE_STORE_CONTAINER)
    blobs = {blob.name for blob in client.list_blobs()} if client.exists() else set()
    expected = {
        f"{v.image}/{v.version}.vhd" for v in versions if v.state == "available"
    }
    recorded = {f"{v.image}/{v.version}.vhd" for v in versions}
    problems = [
        f"image store VHD {name} has no version" for name in sorted(blobs - recorded)
    ]
    problems += [f"version VHD {name} is missing" for name in sorted(expected - blobs)]
    return problems


def check_poison_queues(harness: FactoryHarness) -> list[str]:
    return [
        f"poison queue {name} holds {count} messages"
        for name, count in sorted(harness.queue_lengths().items())
        if name.endswith(POISON_SUFFIX) and count
    ]


def _versions(harness: FactoryHarness) -> list[ImageVersion]:
    table = harness.tables().get_table_client("images")
    return [from_entity(ImageVersion, entity) for entity in table.list_entities()]


def _lab_holdings(harness: FactoryHarness) -> set[tuple[str, str, str]]:
    table = harness.tables().get_table_client("labimages")
    return {
        (str(row["lab_id"]).lower(), str(row["image"]), str(row["version"]))
        for row in table.list_entities()
    }


def _copy_lab_ids(harness: FactoryHarness, tasks: list[Task]) -> list[str]:
    ids = {lab_id.lower(): lab_id for lab_id in harness.stack.emulator.team_lab_ids}
    for task in tasks:
        if task.kind == TaskKind.COPY and task.lab_id:
            ids.setdefault(task.lab_id.lower(), task.lab_id)
    return sorted(ids.values())


def _factory_custom_images(
    harness: FactoryHarness, lab_ids: list[str]
) -> list[dict[str, Any]]:
    images = []
    for lab_id in lab_ids:
        for item in harness.arm_list(f"{lab_id}/customimages"):
            tags = item.get("tags") or {}
            if tags.get(FACTORY_TAG) != FACTORY_TAG_VALUE:
                continue
            images.append(
                {
                    "id": item["id"],
                    "name": item["name"],
                    "lab_id": lab_id,
                    "image": tags.get(IMAGE_TAG, ""),
                    "version": tags.get(VERSION_TAG, ""),
                    "state": _state(item),
                }
            )
    return images


def _state(resource: dict[str, Any]) -> str:
    return str((resource.get("properties") or {}).get("provisioningState", ""))
