"""Run, task and image-version state in Table Storage.

Tables:

- ``runs``: PartitionKey ``run``, RowKey = run id. A summary row per run, for listing.
- ``tasks``: PartitionKey = run id. RowKey ``run`` is the run's header (status and
  counters); RowKey ``task|<task id>`` is one task. Header and tasks share a
  partition, so finishing a task and counting it is one atomic transaction.
- ``images``: PartitionKey = image name, RowKey = version.
- ``labimages``: PartitionKey = lab resource id, RowKey ``<image>|<version>``:
  the custom images the factory created in each team lab.
- ``deliveries``: PartitionKey = webhook source, RowKey = delivery id, for replay protection.

Every filter goes through ``parameters=``; keys go through :func:`escape_key`.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.errors import RunNotFoundError, TransientError
from shared.keys import escape_key, unescape_key
from shared.models import ImageVersion, Run, Task, TaskStatus, from_entity, to_entity
from shared.storage import StorageClients

logger = logging.getLogger(__name__)

RUNS_TABLE = "runs"
TASKS_TABLE = "tasks"
IMAGES_TABLE = "images"
LAB_IMAGES_TABLE = "labimages"
DELIVERIES_TABLE = "deliveries"
BUILD_LOCKS_TABLE = "buildlocks"
IMAGE_HEALTH_TABLE = "imagehealth"
ALL_TABLES = (
    IMAGE_HEALTH_TABLE,
    RUNS_TABLE,
    TASKS_TABLE,
    IMAGES_TABLE,
    LAB_IMAGES_TABLE,
    DELIVERIES_TABLE,
    BUILD_LOCKS_TABLE,
)

RUN_HEADER_KEY = "run"


@dataclass(frozen=True)
class ImageHealth:
    """Consecutive failed builds of an image's current definition."""

    image: str
    failures: int = 0
    content_hash: str = ""
    # The content hash the image was disabled at; empty while it is enabled.
    disabled_hash: str = ""
    last_error: str = ""


@dataclass(frozen=True)
class BuildLock:
    """Lock row naming the one build of an image that may run now."""

    image: str
    run_id: str
    task_id: str
    content_hash: str
    run_created_at: datetime
    etag: str | None = None


TASK_KEY_PREFIX = "task|"
# Azure rejects a transaction of more than 100 operations.
MAX_TRANSACTION_OPERATIONS = 100
MAX_CAS_ATTEMPTS = 50
# A writer that lost the race for the run's header sleeps a random time
# before it reads the header again, so that many finishers do not retry in
# lockstep. The upper limit starts at this many seconds and doubles per lost
# attempt, up to the maximum.
CAS_BACKOFF_SECONDS = 0.02
CAS_BACKOFF_MAX_SECONDS = 1.0


def task_row_key(task_id: str) -> str:
    return TASK_KEY_PREFIX + escape_key(task_id)


class StateStore:
    """Reads and writes the factory's state tables."""

    def __init__(self, clients: StorageClients) -> None:
        self._service = clients.tables
        self._tables: dict[str, TableClient] = {}

    def table(self, name: str) -> TableClient:
        client = self._tables.get(name)
        if client is None:
            client = self._service.get_table_client(name)
            self._tables[name] = client
        return client

    def ensure_tables(self) -> None:
        for name in ALL_TABLES:
            self._service.create_table_if_not_exists(name)

    # Runs

    def create_run(self, run: Run) -> None:
        """Insert the run's header, then its summary row; both are idempotent."""
        header = _keyed(run, run.run_id, RUN_HEADER_KEY)
        try:
            self.table(TASKS_TABLE).create_entity(header)
        except ResourceExistsError:
            logger.info("run %s already exists; keeping it", run.run_id)
        self.table(RUNS_TABLE).upsert_entity(_summary(run), mode=UpdateMode.MERGE)

    def get_run(self, run_id: str) -> Run:
        try:
            entity = self.table(TASKS_TABLE).get_entity(
                escape_key(run_id), RUN_HEADER_KEY
            )
        except ResourceNotFoundError:
            raise RunNotFoundError(f"run {run_id!r} was not found") from None
        run: Run = from_entity(Run, entity)
        return run

    def list_runs(self, limit: int = 50) -> list[Run]:
        entities = self.table(RUNS_TABLE).query_entities(
            "PartitionKey eq @pk", parameters={"pk": "run"}
        )
        runs = [from_entity(Run, e) for e in entities]
        runs.sort(key=lambda r: r.created_at, reverse=True)
        return runs[:limit]

    def save_run(self, run: Run) -> Run:
        """Write the run's header if nobody changed it since it was read (ETag check).

        Raises ResourceModifiedError when another writer got there first.
        """
        entity = _keyed(run, run.run_id, RUN_HEADER_KEY)
        metadata = self.table(TASKS_TABLE).update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=run.etag,
            match_condition=MatchConditions.IfNotModified,
        )
        run.etag = metadata.get("etag")
        self.table(RUNS_TABLE).upsert_entity(_summary(run), mode=UpdateMode.MERGE)
        return run

    def update_run(self, run_id: str, change: Callable[[Run], bool]) -> Run:
        """Apply ``change`` to the run's header with an ETag-conditioned retry loop.

        ``change`` edits the run in place and returns False to leave it unwritten.
        """
        for _ in range(MAX_CAS_ATTEMPTS):
            run = self.get_run(run_id)
            if not change(run):
                return run
            try:
                return self.save_run(run)
            except ResourceModifiedError:
                continue
        raise TransientError(f"run {run_id}: too many concurrent updates of its header")

    # Tasks

    def put_tasks(self, run_id: str, tasks: Iterable[Task]) -> None:
        """Insert or replace tasks in transactions of at most 100 operations."""
        operations: list[tuple[str, dict[str, Any]]] = [
            ("upsert", _keyed(t, run_id, task_row_key(t.task_id))) for t in tasks
        ]
        table = self.table(TASKS_TABLE)
        for start in range(0, len(operations), MAX_TRANSACTION_OPERATIONS):
            batch = operations[start : start + MAX_TRANSACTION_OPERATIONS]
            table.submit_transaction(batch)

    def get_task(self, run_id: str, task_id: str) -> Task:
        try:
            entity = self.table(TASKS_TABLE).get_entity(
                escape_key(run_id), task_row_key(task_id)
            )
        except ResourceNotFoundError:
            raise RunNotFoundError(
                f"task {task_id!r} of run {run_id!r} was not found"
            ) from None
        task: Task = from_entity(Task, entity)
        return task

    def list_tasks(self, run_id: str) -> list[Task]:
        entities = self.table(TASKS_TABLE).query_entities(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
            parameters={"pk": escape_key(run_id), "lo": "task|", "hi": "task}"},
        )
        return [from_entity(Task, e) for e in entities]

    def last_activity(self, run_id: str) -> datetime | None:
        """Return when the run's header or any of its tasks was last written."""
        entities = self.table(TASKS_TABLE).query_entities(
            "PartitionKey eq @pk",
            parameters={"pk": escape_key(run_id)},
            select=["RowKey"],
        )
        stamps = [e.metadata.get("timestamp") for e in entities]
        return max((t for t in stamps if t is not None), default=None)

    def save_task(self, task: Task) -> Task:
        """Write a task if it is unchanged since it was read; raises ResourceModifiedError."""
        entity = _keyed(task, task.run_id, task_row_key(task.task_id))
        metadata = self.table(TASKS_TABLE).update_entity(
            entity,
            mode=UpdateMode.REPLACE,
            etag=task.etag,
            match_condition=MatchConditions.IfNotModified,
        )
        task.etag = metadata.get("etag")
        return task

    def finish_tasks(self, run_id: str, tasks: list[Task]) -> Run:
        """Record final task states and count them in the run's header, atomically.

        Each task must come from :meth:`get_task` (its ETag is checked) and carry
        its final status. Returns the updated header. Raises
        ResourceModifiedError when a task changed since it was read, so a
        repeated delivery can never count a task twice.
        """

        def count(run: Run) -> None:
            for task in tasks:
                run.finished += 1
                if task.status == TaskStatus.SUCCEEDED:
                    run.succeeded += 1
                elif task.status == TaskStatus.CANCELLED:
                    run.cancelled += 1
                else:
                    run.failed += 1

        return self.write_tasks_with_header(run_id, tasks, count)

    def write_tasks_with_header(
        self, run_id: str, tasks: list[Task], change_header: Callable[[Run], None]
    ) -> Run:
        """Write ``tasks`` and the header as changed by ``change_header``, atomically.

        The header is read again and ``change_header`` applied again when another
        writer updated it meanwhile; a task changed meanwhile raises
        ResourceModifiedError. At most 99 tasks, the transaction limit less the header.
        """
        if len(tasks) >= MAX_TRANSACTION_OPERATIONS:
            raise ValueError(
                f"{len(tasks)} tasks do not fit one transaction with the header"
            )
        table = self.table(TASKS_TABLE)
        for attempt in range(MAX_CAS_ATTEMPTS):
            run = self.get_run(run_id)
            change_header(run)
            operations: list[Any] = [
                _conditional_update(_keyed(t, run_id, task_row_key(t.task_id)), t.etag)
                for t in tasks
            ]
            operations.append(
                _conditional_update(_keyed(run, run_id, RUN_HEADER_KEY), run.etag)
            )
            try:
                results = table.submit_transaction(operations)
            except TableTransactionError as exc:
                if exc.index == len(operations) - 1:
                    # Only the header moved on: apply the change again.
                    _cas_backoff(attempt)
                    continue
                raise ResourceModifiedError(
                    f"task {tasks[exc.index].task_id} of run {run_id} changed "
                    "while it was being written"
                ) from exc
            for task, result in zip(tasks, results, strict=False):
                task.etag = result.get("etag")
            run.etag = results[-1].get("etag")
            self.table(RUNS_TABLE).upsert_entity(_summary(run), mode=UpdateMode.MERGE)
            return run
        raise TransientError(f"run {run_id}: too many concurrent updates of its header")

    # Image versions

    def put_version(self, version: ImageVersion) -> None:
        entity = _keyed(version, version.image, version.version)
        self.table(IMAGES_TABLE).upsert_entity(entity, mode=UpdateMode.REPLACE)

    def set_version_state(self, image: str, version: str, state: str) -> None:
        entity = {
            "PartitionKey": escape_key(image),
            "RowKey": version,
            "state": state,
        }
        with contextlib.suppress(ResourceNotFoundError):
            self.table(IMAGES_TABLE).update_entity(entity, mode=UpdateMode.MERGE)

    def find_version(self, image: str, content_hash: str) -> ImageVersion | None:
        """Return the newest available version of ``image`` with this content hash."""
        entities = self.table(IMAGES_TABLE).query_entities(
            "PartitionKey eq @pk and content_hash eq @hash and state eq @state",
            parameters={
                "pk": escape_key(image),
                "hash": content_hash,
                "state": "available",
            },
        )
        versions = [from_entity(ImageVersion, e) for e in entities]
        return max(versions, key=lambda v: v.version) if versions else None

    def list_versions(self, image: str | None = None) -> list[ImageVersion]:
        table = self.table(IMAGES_TABLE)
        if image is None:
            entities: Iterator[Any] = iter(table.list_entities())
        else:
            entities = iter(
                table.query_entities(
                    "PartitionKey eq @pk", parameters={"pk": escape_key(image)}
                )
            )
        return [from_entity(ImageVersion, e) for e in entities]

    # Custom images the factory placed in team labs

    def record_lab_image(
        self, lab_id: str, image: str, version: str, custom_image_id: str, run_id: str
    ) -> None:
        entity = {
            "PartitionKey": escape_key(lab_id.lower()),
            "RowKey": escape_key(f"{image}|{version}"),
            "lab_id": lab_id,
            "image": image,
            "version": version,
            "custom_image_id": custom_image_id,
            "run_id": run_id,
        }
        self.table(LAB_IMAGES_TABLE).upsert_entity(entity, mode=UpdateMode.REPLACE)

    def remove_lab_image(self, lab_id: str, image: str, version: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self.table(LAB_IMAGES_TABLE).delete_entity(
                escape_key(lab_id.lower()), escape_key(f"{image}|{version}")
            )

    def lab_holds(self, lab_id: str, image: str, version: str) -> bool:
        try:
            self.table(LAB_IMAGES_TABLE).get_entity(
                escape_key(lab_id.lower()), escape_key(f"{image}|{version}")
            )
        except ResourceNotFoundError:
            return False
        return True

    def list_lab_images(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self.table(LAB_IMAGES_TABLE).list_entities()]

    # Build locks: at most one build of an image at a time

    def get_build_lock(self, image: str) -> BuildLock | None:
        try:
            entity = self.table(BUILD_LOCKS_TABLE).get_entity(escape_key(image), "lock")
        except ResourceNotFoundError:
            return None
        return BuildLock(
            image=image,
            run_id=str(entity["run_id"]),
            task_id=str(entity["task_id"]),
            content_hash=str(entity["content_hash"]),
            run_created_at=entity["run_created_at"],
            etag=entity.metadata.get("etag"),
        )

    def take_build_lock(self, lock: BuildLock, previous: BuildLock | None) -> bool:
        """Write ``lock``, if ``previous`` (None: no lock) is still what the table holds."""
        entity = {
            "PartitionKey": escape_key(lock.image),
            "RowKey": "lock",
            "run_id": lock.run_id,
            "task_id": lock.task_id,
            "content_hash": lock.content_hash,
            "run_created_at": lock.run_created_at,
        }
        table = self.table(BUILD_LOCKS_TABLE)
        try:
            if previous is None:
                table.create_entity(entity)
            else:
                table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=previous.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    # Image health: consecutive failed builds, and whether the image is disabled

    def get_image_health(self, image: str) -> ImageHealth:
        try:
            entity = self.table(IMAGE_HEALTH_TABLE).get_entity(
                escape_key(image), "health"
            )
        except ResourceNotFoundError:
            return ImageHealth(image)
        return ImageHealth(
            image=image,
            failures=int(entity.get("failures", 0)),
            content_hash=str(entity.get("content_hash", "")),
            disabled_hash=str(entity.get("disabled_hash", "")),
            last_error=str(entity.get("last_error", "")),
        )

    def update_image_health(self, image: str, **fields: Any) -> None:
        entity = {"PartitionKey": escape_key(image), "RowKey": "health", **fields}
        self.table(IMAGE_HEALTH_TABLE).upsert_entity(entity, mode=UpdateMode.MERGE)

    def list_image_health(self) -> list[ImageHealth]:
        return [
            self.get_image_health(unescape_key(str(e["PartitionKey"])))
            for e in self.table(IMAGE_HEALTH_TABLE).list_entities(
                select=["PartitionKey"]
            )
        ]

    # Webhook deliveries

    def claim_delivery(self, source: str, delivery_id: str, run_id: str) -> str:
        """Record a webhook delivery; return the run id of its first delivery."""
        table = self.table(DELIVERIES_TABLE)
        entity = {
            "PartitionKey": escape_key(source),
            "RowKey": escape_key(delivery_id),
            "run_id": run_id,
        }
        try:
            table.create_entity(entity)
        except ResourceExistsError:
            existing = table.get_entity(escape_key(source), escape_key(delivery_id))
            return str(existing["run_id"])
        return run_id


def _cas_backoff(attempt: int) -> None:
    limit = min(CAS_BACKOFF_MAX_SECONDS, CAS_BACKOFF_SECONDS * 2**attempt)
    time.sleep(random.uniform(0, limit))


def _keyed(record: Any, partition: str, row: str) -> dict[str, Any]:
    entity = to_entity(record)
    entity["PartitionKey"] = escape_key(partition)
    entity["RowKey"] = row
    return entity


def _conditional_update(entity: dict[str, Any], etag: str | None) -> tuple[Any, ...]:
    options = {
        "mode": UpdateMode.REPLACE,
        "etag": etag,
        "match_condition": MatchConditions.IfNotModified,
    }
    return ("update", entity, options)


def _summary(run: Run) -> dict[str, Any]:
    entity = to_entity(run)
    entity["PartitionKey"] = "run"
    entity["RowKey"] = escape_key(run.run_id)
    return entity
