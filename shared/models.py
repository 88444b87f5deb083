"""Records of runs, tasks and image versions, as the state tables store them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.logcontext import redact


class RunStatus(StrEnum):
    QUEUED = "queued"
    PLANNING = "planning"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_RUN_STATUSES

    @property
    def stops_tasks(self) -> bool:
        """Whether tasks still open in a run of this status must stop and clean up."""
        return self in (RunStatus.CANCELLED, RunStatus.FAILED)


_FINAL_RUN_STATUSES = {
    RunStatus.SUCCEEDED,
    RunStatus.PARTIALLY_SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
}


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING)


class TaskKind(StrEnum):
    BUILD = "build"
    COPY = "copy"
    RETIRE = "retire"


class RetireTarget(StrEnum):
    """Kind of resource that a retire task deletes."""

    CUSTOM_IMAGE = "custom_image"
    VHD = "vhd"
    VM = "vm"
    UPLOAD = "upload"


class Trigger(StrEnum):
    PUSH = "push"
    SCHEDULE = "schedule"
    MANUAL = "manual"
    EXPIRY = "expiry"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Run:
    """One run of the factory: what started it, at which commit, and how it ended."""

    run_id: str
    trigger: str
    ref: str
    commit: str = ""
    requested_by: str = ""
    requested_images: list[str] | None = None
    requested_labs: list[str] | None = None
    force: bool = False
    # Expiry runs build nothing: they only apply the retention rules.
    retire_only: bool = False
    retirement_planned: bool = False
    delivery_id: str = ""
    # GitHub "owner/name" of a pushed repository, for its commit status.
    repository: str = ""
    status: str = RunStatus.QUEUED
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""
    total: int = 0
    finished: int = 0
    succeeded: int = 0
    # Failed or skipped; cancelled tasks are counted apart.
    failed: int = 0
    cancelled: int = 0
    etag: str | None = field(default=None, compare=False)

    def to_api(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "trigger": self.trigger,
            "ref": self.ref,
            "commit": self.commit,
            "requested_by": self.requested_by,
            "requested_images": self.requested_images,
            "requested_labs": self.requested_labs,
            "status": str(self.status),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "error": self.error or None,
            "counts": {
                "total": self.total,
                "finished": self.finished,
                "succeeded": self.succeeded,
                "failed": self.failed,
                "cancelled": self.cancelled,
                "pending": self.total - self.finished,
            },
        }


@dataclass
class Task:
    """One unit of work of a run: a build of an image or a copy of a version to a lab.

    ``phase`` records how far a multi-step handler got, so that a redelivered
    message resumes where the last attempt stopped.
    """

    run_id: str
    task_id: str
    kind: str
    image: str
    version: str
    content_hash: str
    os_type: str
    lab: str = ""
    lab_id: str = ""
    depends_on: str = ""
    status: str = TaskStatus.PENDING
    phase: str = ""
    attempts: int = 0
    copy_attempts: int = 0
    # Monitor checks so far. A message whose check number is below it is left
    # over from a duplicate delivery chain and is dropped.
    checks: int = 0
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    deadline: datetime | None = None
    error: str = ""
    vm_name: str = ""
    vm_id: str = ""
    os_disk_id: str = ""
    vhd_url: str = ""
    upload_blob_url: str = ""
    custom_image_name: str = ""
    custom_image_id: str = ""
    # Build tasks: the resolved image definition and the labs that receive it, as JSON.
    definition: str = ""
    # Retire tasks: what to delete and why.
    target: str = ""
    reason: str = ""
    etag: str | None = field(default=None, compare=False)

    def to_api(self) -> dict[str, Any]:
        data = {
            name: getattr(self, name)
            for name in (
                "task_id",
                "kind",
                "image",
                "lab",
                "status",
                "phase",
                "attempts",
                "version",
                "content_hash",
                "vhd_url",
                "custom_image_name",
                "custom_image_id",
                "target",
                "reason",
                "error",
            )
        }
        data["status"] = str(self.status)
        data["kind"] = str(self.kind)
        data["error"] = self.error or None
        data["created_at"] = _iso(self.created_at)
        data["started_at"] = _iso(self.started_at)
        data["finished_at"] = _iso(self.finished_at)
        return data


@dataclass
class ImageVersion:
    """A captured version of a golden image in the image store."""

    image: str
    version: str
    content_hash: str
    os_type: str
    vhd_url: str
    commit: str
    run_id: str
    custom_image_name: str
    created_at: datetime = field(default_factory=utcnow)
    state: str = "available"

    def to_api(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = _iso(self.created_at)
        return data


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# Field types that the tables store as JSON text.
_JSON_FIELDS = {"requested_images", "requested_labs"}
# Fields that carry messages from Azure and are redacted before they are stored.
_FREE_TEXT_FIELDS = {"error", "reason"}


def to_entity(record: Any) -> dict[str, Any]:
    """Turn a record into table entity properties (without keys)."""
    entity: dict[str, Any] = {}
    for f in fields(record):
        if f.name == "etag":
            continue
        value = getattr(record, f.name)
        if f.name in _JSON_FIELDS:
            value = json.dumps(value)
        elif f.name in _FREE_TEXT_FIELDS and value:
            # Azure error messages can quote a SAS URL or a token; the API and
            # the status page show these fields to every key holder.
            value = redact(value)
        elif isinstance(value, StrEnum):
            value = str(value)
        if value is None:
            continue
        entity[f.name] = value
    return entity


def from_entity(cls: type, entity: Any) -> Any:
    """Build a record of type ``cls`` from a table entity."""
    names = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for name in names:
        if name == "etag" or name not in entity:
            continue
        value = entity[name]
        if name in _JSON_FIELDS:
            value = json.loads(value) if value else None
        elif hasattr(value, "value") and hasattr(value, "edm_type"):
            value = value.value
        values[name] = value
    record = cls(**values)
    metadata = getattr(entity, "metadata", None) or {}
    if "etag" in names:
        record.etag = metadata.get("etag")
    return record
