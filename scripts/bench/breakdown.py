"""The end-to-end time of the critical image, step by step.

The steps alternate between Azure's operations (the lower bound) and the
factory's own time: queue pickups, monitor intervals, SDK polls and the
work of each stage. Times come from the run's header, the task rows and the
emulator's operation records, all in wall seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from scripts.bench.critical_path import (
    CUSTOM_IMAGE_CREATE,
    GRANT_ACCESS,
    VM_CREATE,
    OperationSpan,
)
from shared.models import Run, Task, TaskKind


@dataclass(frozen=True)
class Step:
    """One step on the critical image's path; ``azure`` marks an emulated operation."""

    name: str
    seconds: float
    azure: bool


def critical_image_steps(
    run: Run, tasks: Iterable[Task], spans: Iterable[OperationSpan], image: str
) -> list[Step]:
    """Return the steps from the run's creation to its end through ``image``'s chain."""
    tasks = list(tasks)
    spans = list(spans)
    build = next(t for t in tasks if t.kind == TaskKind.BUILD and t.image == image)
    copies = [
        t
        for t in tasks
        if t.kind == TaskKind.COPY and t.image == image and t.finished_at
    ]
    last_copy = max(copies, key=lambda t: _stamp(t.finished_at))
    vm = _span(spans, VM_CREATE, f"/virtualmachines/{build.vm_name.lower()}")
    disk = _span(spans, GRANT_ACCESS, build.os_disk_id.lower())

    lab = last_copy.lab_id.rsplit("/", 1)[-1].lower()
    custom_image = _span(
        spans,
        CUSTOM_IMAGE_CREATE,
        f"/labs/{lab}/customimages/{last_copy.custom_image_name.lower()}",
    )
    assert run.finished_at is not None

    points = [
        ("plan and start the build", _stamp(run.created_at), vm.start, False),
        ("VM create, artifacts, generalization", vm.start, vm.end, True),
        ("notice the VM is ready, start capture", vm.end, disk.start, False),
        ("disk read access", disk.start, disk.end, True),
        (
            "copy the VHD, revoke access, delete the VM, start the copies",
            disk.end,
            custom_image.start - _upload_seconds(last_copy, custom_image),
            False,
        ),
        (
            "upload into the lab, start the custom image",
            custom_image.start - _upload_seconds(last_copy, custom_image),
            custom_image.start,
            False,
        ),
        ("custom image create", custom_image.start, custom_image.end, True),
        (
            "notice the custom image, finish the copy",
            custom_image.end,
            _stamp(last_copy.finished_at),
            False,
        ),
        (
            "finalize: retention and the run's status",
            _stamp(last_copy.finished_at),
            _stamp(run.finished_at),
            False,
        ),
    ]
    return [
        Step(name, round(end - start, 2), azure) for name, start, end, azure in points
    ]


def _upload_seconds(copy: Task, custom_image: OperationSpan) -> float:
    """Return the time from the copy's first delivery to its custom image's PUT."""
    if copy.started_at is None:
        return 0.0
    return max(0.0, custom_image.start - _stamp(copy.started_at))


def _span(spans: list[OperationSpan], kind: str, suffix: str) -> OperationSpan:
    matching = [s for s in spans if s.kind == kind and s.target.endswith(suffix)]
    return max(matching, key=lambda s: s.start)


def _stamp(moment: datetime | None) -> float:
    assert moment is not None
    return moment.timestamp()
