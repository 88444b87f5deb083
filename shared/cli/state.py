"""Read the factory's recorded state for imagefactory plan, and predict retirements.

The state is what the factory's runs wrote to Table Storage: image versions
and the custom images placed in each lab. Retirements are predicted the way
a run's finalize stage decides them, over the state as it will be once the
planned builds and copies succeeded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from shared.cli.common import UsageError
from shared.config import FactoryConfig
from shared.lifecycle.retention import (
    LabImage,
    Retirement,
    current_content_hashes,
    plan_retirements,
)
from shared.models import ImageVersion, Task, TaskKind
from shared.planner import custom_image_name
from shared.state import StateStore

CONNECTION_STRING_SETTING = "AzureWebJobsStorage"
ACCOUNT_NAME_SETTING = "AzureWebJobsStorage__accountName"


class StateUnreadable(Exception):
    """The recorded state could not be read. The message states why and what to check."""


@dataclass
class RecordedState:
    """The factory's state tables, or empty ones for a factory that never ran."""

    store: StateStore | None
    versions: list[ImageVersion] = field(default_factory=list)
    lab_rows: list[dict[str, Any]] = field(default_factory=list)

    def find_version(self, image: str, content_hash: str) -> ImageVersion | None:
        if self.store is None:
            return None
        try:
            with _reading():
                return self.store.find_version(image, content_hash)
        except _TableMissing:
            return None

    def lab_holds(self, lab_id: str, image: str, version: str) -> bool:
        if self.store is None:
            return False
        try:
            with _reading():
                return self.store.lab_holds(lab_id, image, version)
        except _TableMissing:
            return False


def open_state(
    connection_string: str | None, account_name: str | None
) -> RecordedState:
    """Connect to the state tables named by the options or the app settings."""
    connection_string = connection_string or os.environ.get(CONNECTION_STRING_SETTING)
    account_name = account_name or os.environ.get(ACCOUNT_NAME_SETTING)
    if connection_string:
        from azure.data.tables import TableServiceClient

        service = TableServiceClient.from_connection_string(connection_string)
    elif account_name:
        from azure.data.tables import TableServiceClient

        from shared.storage import azure_credential

        service = TableServiceClient(
            f"https://{account_name}.table.core.windows.net",
            credential=azure_credential(),
        )
    else:
        raise UsageError(
            "no storage account for the factory's state. Set the "
            f"{CONNECTION_STRING_SETTING} environment variable or pass "
            "--storage-connection-string, or pass --storage-account with the "
            "account name to sign in with your Azure credentials."
        )
    store = StateStore(_TablesOnly(service))  # type: ignore[arg-type]
    state = RecordedState(store)
    # A table that does not exist yet is empty: the factory never wrote to it.
    try:
        with _reading():
            state.versions = store.list_versions()
    except _TableMissing:
        state.versions = []
    try:
        with _reading():
            state.lab_rows = store.list_lab_images()
    except _TableMissing:
        state.lab_rows = []
    return state


class _TablesOnly:
    """The part of StorageClients that StateStore uses."""

    def __init__(self, tables: Any) -> None:
        self.tables = tables


class _TableMissing(Exception):
    pass


@contextmanager
def _reading() -> Iterator[None]:
    try:
        yield
    except ResourceNotFoundError as exc:
        raise _TableMissing() from exc
    except ClientAuthenticationError as exc:
        raise StateUnreadable(
            f"access to the state tables was denied: {exc.message}. Check the "
            "account key, or that your identity has the Storage Table Data "
            "Reader role on the account."
        ) from exc
    except HttpResponseError as exc:
        raise StateUnreadable(
            f"reading the state tables failed: {exc.status_code} {exc.reason}. "
            "Check the storage account and your access to it."
        ) from exc
    except AzureError as exc:
        raise StateUnreadable(
            f"cannot reach the state tables: {exc}. Check the connection string "
            "or account name and the network."
        ) from exc


def predict_retirements(
    config: FactoryConfig,
    state: RecordedState,
    tasks: list[Task],
    now: datetime,
) -> list[Retirement]:
    """Return what the run's retention phase retires once the tasks succeeded.

    NOTE: orphaned factory VMs and leftover uploaded VHDs are left out, because
    finding them takes the factory lab's VM list from Azure Resource Manager and
    the labs' upload containers from Azure Storage, which plan does not read.
    """
    versions = list(state.versions)
    created = {(v.image, v.version): v.created_at for v in versions}
    for task in tasks:
        if task.kind == TaskKind.BUILD:
            versions.append(_planned_version(task, now))
    team_labs = _team_lab_ids(config, state)
    lab_images = [
        LabImage(
            lab_id=str(row["lab_id"]),
            name=_custom_image_name(row),
            image=str(row["image"]),
            version=str(row["version"]),
            created=created.get((str(row["image"]), str(row["version"]))),
        )
        for row in state.lab_rows
        if str(row.get("lab_id", "")).lower() in team_labs
    ]
    lab_images += [
        LabImage(task.lab_id, task.custom_image_name, task.image, task.version, now)
        for task in tasks
        if task.kind == TaskKind.COPY and task.lab_id.lower() in team_labs
    ]

    def find_version(image: str, content_hash: str) -> ImageVersion | None:
        matches = [
            v
            for v in versions
            if v.image == image
            and v.content_hash == content_hash
            and v.state == "available"
        ]
        return max(matches, key=lambda v: v.version) if matches else None

    hashes = current_content_hashes(config, find_version)
    return plan_retirements(config, lab_images, versions, now, current_hashes=hashes)


def _team_lab_ids(config: FactoryConfig, state: RecordedState) -> set[str]:
    """Return the team lab ids that the retention phase reads: configured and earlier ones.

    A lab that left labs.yaml still contains the factory's images, which
    retention removes. The factory lab holds the bases of layered builds.
    """
    ids = {lab.lab_id.lower() for lab in config.labs}
    ids.add(config.factory_lab_id.lower())
    for row in state.lab_rows:
        lab_id = str(row.get("lab_id", "")).lower()
        if lab_id:
            ids.add(lab_id)
    return ids


def _planned_version(task: Task, now: datetime) -> ImageVersion:
    return ImageVersion(
        image=task.image,
        version=task.version,
        content_hash=task.content_hash,
        os_type=task.os_type,
        vhd_url="",
        commit="",
        run_id=task.run_id,
        custom_image_name=custom_image_name(task.image, task.version),
        created_at=now,
    )


def _custom_image_name(row: dict[str, Any]) -> str:
    image_id = str(row.get("custom_image_id") or "")
    if image_id:
        return image_id.rstrip("/").rsplit("/", 1)[-1]
    return custom_image_name(str(row["image"]), str(row["version"]))
