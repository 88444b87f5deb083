"""The critical-path lower bound of a run, from the emulator's operations.

Each image's copies depend on its captured VHD, the capture on the
generalized VM, and nothing else: with unlimited parallelism and an
orchestrator that reacts at once, a run cannot end sooner than its longest
chain of

    VM create (artifacts and generalization included) -> disk read access
    -> the slowest custom image create of the image's copies.

The request log names the operations a run started (each initial request
carries its operation id). The emulator stamps each operation with its
start and with the emulated time at which it ended, which its state file
keeps. Blob copies take no time in Azurite, and revoking disk access and
deleting the VM are not on the chain because no copy waits for them.
Layered images (built on another image's factory lab copy) are not
modelled.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.models import Task, TaskKind

VM_CREATE = "vm_create"
GRANT_ACCESS = "grant_access"
CUSTOM_IMAGE_CREATE = "custom_image_create"
STARTING_METHODS = {"PUT", "POST"}


@dataclass(frozen=True)
class OperationSpan:
    """One long-running operation: what it acted on, and when it started and ended."""

    operation_id: str
    kind: str
    target: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class ImageChain:
    """The dependent operations of one image, in seconds of wall time."""

    image: str
    build: float
    capture: float
    copies: dict[str, float] = field(default_factory=dict)

    @property
    def slowest_copy(self) -> float:
        return max(self.copies.values(), default=0.0)

    @property
    def seconds(self) -> float:
        return self.build + self.capture + self.slowest_copy


def started_operation_ids(log: Iterable[dict[str, Any]]) -> set[str]:
    """Return the operations that requests in the log started (not only polled)."""
    return {
        str(entry["operation_id"])
        for entry in log
        if entry.get("operation_id")
        and entry["method"] in STARTING_METHODS
        and entry.get("status") in (200, 201, 202)
    }


def operation_spans(
    operations: Iterable[dict[str, Any]], started: set[str]
) -> list[OperationSpan]:
    """Return the succeeded operations among ``started``, from the emulator's state file."""
    spans = []
    for operation in operations:
        if operation["id"] not in started or operation.get("status") != "Succeeded":
            continue
        if not operation.get("ended"):
            continue
        spans.append(
            OperationSpan(
                operation_id=str(operation["id"]),
                kind=str(operation["kind"]),
                target=str(operation["target_key"]).lower(),
                start=_unix(str(operation["started"])),
                end=_unix(str(operation["ended"])),
            )
        )
    return spans


def image_chains(
    tasks: Iterable[Task], spans: Iterable[OperationSpan]
) -> list[ImageChain]:
    """Pair each succeeded build and its copies with their operations."""
    by_kind: dict[str, list[OperationSpan]] = {}
    for span in spans:
        by_kind.setdefault(span.kind, []).append(span)
    tasks = list(tasks)
    chains = []
    for build in tasks:
        if build.kind != TaskKind.BUILD or not build.vm_name:
            continue
        vm = _latest(
            by_kind.get(VM_CREATE, []), f"/virtualmachines/{build.vm_name.lower()}"
        )
        disk = _latest(by_kind.get(GRANT_ACCESS, []), build.os_disk_id.lower())
        if vm is None or disk is None:
            continue
        copies = {}
        for copy in tasks:
            if copy.kind != TaskKind.COPY or copy.image != build.image:
                continue
            suffix = f"/labs/{copy.lab_id.rsplit('/', 1)[-1].lower()}/customimages/{copy.custom_image_name.lower()}"
            image = _latest(by_kind.get(CUSTOM_IMAGE_CREATE, []), suffix)
            if image is not None:
                copies[copy.lab] = image.seconds
        chains.append(ImageChain(build.image, vm.seconds, disk.seconds, copies))
    return chains


def critical_path(chains: Iterable[ImageChain]) -> ImageChain | None:
    """Return the longest chain, which is the run's lower bound, or None without chains."""
    return max(chains, key=lambda chain: chain.seconds, default=None)


def _latest(spans: list[OperationSpan], target_suffix: str) -> OperationSpan | None:
    """Return the last operation on a target; a repeated delivery may have started two."""
    matching = [s for s in spans if target_suffix and s.target.endswith(target_suffix)]
    return max(matching, key=lambda s: s.start, default=None)


def _unix(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
