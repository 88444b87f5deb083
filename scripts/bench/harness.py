"""A local stack with a generated fleet, and the reads that tests and the benchmark need.

``FactoryHarness`` starts Azurite, the emulator (seeded with the fleet's
labs) and the dev host in a state directory of its own, commits the fleet's
configuration to a fresh git repository, and starts runs through the HTTP
API. It reads run and task state straight from the tables, so that waiting
for a run adds no work to the function app, whose storage requests may be
under measurement.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from scripts.bench.fleet import FleetSpec, config_files, write_seed_file
from scripts.localstack import CommitInfo, ConfigRepo, LocalStack
from shared.keys import escape_key
from shared.models import Run, RunStatus, Task, from_entity

logger = logging.getLogger(__name__)

HOOK_DIR = Path(__file__).resolve().parent / "hook"
COUNTS_FILE_NAME = "storage-counts.json"
ARM_RESOURCE = "https://management.azure.com/"
DTL_API_VERSION = "2018-09-15"
POLL_SECONDS = 0.5
# The Azurite queue service accepts this x-ms-version without --skipApiVersionCheck.
QUEUE_API_VERSION = "2026-06-06"


class HarnessError(Exception):
    """A run did not reach the state the caller waited for."""


@dataclass
class HarnessOptions:
    """How to start the stack: time scale, dev host lease, settings, measurements."""

    time_scale: float = 0.004
    emulator_seed: int = 1
    message_lease_seconds: int | None = None
    monitor_interval_seconds: int | None = None
    watchdog_stall_minutes: float | None = None
    count_storage: bool = False
    # Hourly timers that would start runs of their own in the middle of a measurement.
    disabled_functions: tuple[str, ...] = ("refresh", "expiry")
    extra_settings: Mapping[str, str] = field(default_factory=dict)


class FactoryHarness:
    """One isolated local stack running the factory on a generated fleet."""

    def __init__(
        self, state_dir: Path, fleet: FleetSpec, options: HarnessOptions
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.fleet = fleet
        self.options = options
        self.counts_file = self.state_dir / COUNTS_FILE_NAME
        self.repo: ConfigRepo | None = None
        self.stack = LocalStack(
            self.state_dir / "stack",
            time_scale=options.time_scale,
            extra_settings=self._settings(),
            emulator_args=self._emulator_args(),
            devhost_args=self._devhost_args(),
        )
        self._tables: TableServiceClient | None = None
        self._arm = requests.Session()
        self._arm.trust_env = False
        self._token: tuple[str, float] | None = None

    # Lifecycle

    def __enter__(self) -> FactoryHarness:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.repo, _ = self._create_repo()
        self.stack.config_repo = self.repo.path
        self.stack.start()
        self._arm.verify = self.stack.emulator.ca_bundle

    def stop(self) -> None:
        self.stack.stop()
        self._arm.close()

    def _create_repo(self) -> tuple[ConfigRepo, CommitInfo]:
        source = self.state_dir / "config-source"
        for relative, text in config_files(self.fleet).items():
            path = source / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return ConfigRepo.create_from(source, self.state_dir / "config-repo")

    def _settings(self) -> dict[str, str]:
        settings = {
            f"AzureWebJobs.{name}.Disabled": "true"
            for name in self.options.disabled_functions
        }
        if self.options.monitor_interval_seconds is not None:
            settings["FACTORY_MONITOR_INTERVAL_SECONDS"] = str(
                self.options.monitor_interval_seconds
            )
        if self.options.watchdog_stall_minutes is not None:
            settings["FACTORY_WATCHDOG_STALL_MINUTES"] = str(
                self.options.watchdog_stall_minutes
            )
        if self.options.count_storage:
            settings["PYTHONPATH"] = str(HOOK_DIR)
            settings["FACTORY_BENCH_STORAGE_COUNTS"] = str(self.counts_file)
        return settings | dict(self.options.extra_settings)

    def _emulator_args(self) -> list[str]:
        args = ["--random-seed", str(self.options.emulator_seed)]
        if self.fleet.needs_seed_file():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            seed = write_seed_file(self.fleet, self.state_dir / "seed-labs.yaml")
            args += ["--seed-labs", str(seed)]
        return args

    def _devhost_args(self) -> list[str]:
        if self.options.message_lease_seconds is None:
            return []
        return ["--message-lease", str(self.options.message_lease_seconds)]

    # Runs

    def start_run(self, body: Mapping[str, Any] | None = None) -> str:
        """Start a manual run through the HTTP API; return its id."""
        response = self.stack.api().post("/api/runs", json=dict(body or {}))
        if response.status_code != 202:
            raise HarnessError(
                f"POST /api/runs returned {response.status_code}: {response.text}"
            )
        return str(response.json()["run_id"])

    def get_run(self, run_id: str) -> Run:
        entity = (
            self.tables()
            .get_table_client("tasks")
            .get_entity(escape_key(run_id), "run")
        )
        run: Run = from_entity(Run, entity)
        return run

    def list_tasks(self, run_id: str) -> list[Task]:
        entities = (
            self.tables()
            .get_table_client("tasks")
            .query_entities(
                "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                parameters={"pk": escape_key(run_id), "lo": "task|", "hi": "task}"},
            )
        )
        return [from_entity(Task, entity) for entity in entities]

    def wait_for_run(
        self,
        run_id: str,
        timeout: float,
        on_poll: Callable[[Run], None] | None = None,
    ) -> Run:
        """Wait until the run ends; call on_poll with each reading of its header."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get_run(run_id)
            if RunStatus(run.status).is_final:
                return run
            if on_poll is not None:
                on_poll(run)
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"run {run_id} did not end within {timeout:g} s: status "
                    f"{run.status}, {run.finished} of {run.total} tasks finished"
                )
            time.sleep(POLL_SECONDS)

    def wait_until(
        self, condition: Callable[[], bool], timeout: float, what: str
    ) -> None:
        """Poll ``condition`` until it is true; raise HarnessError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise HarnessError(
                    f"timed out after {timeout:g} s waiting until {what}"
                )
            time.sleep(POLL_SECONDS)

    def fire_timer(self, function: str) -> None:
        """Run a timer function once, as its schedule would (dev host admin API)."""
        with self.stack.admin_api() as admin:
            response = admin.post(f"/admin/functions/{function}", json={})
        if response.status_code != 202:
            raise HarnessError(
                f"starting timer {function} returned {response.status_code}: {response.text}"
            )

    # Storage

    def tables(self) -> TableServiceClient:
        if self._tables is None:
            self._tables = TableServiceClient.from_connection_string(
                self.stack.storage_connection_string
            )
        return self._tables

    def blobs(self) -> BlobServiceClient:
        return BlobServiceClient.from_connection_string(
            self.stack.storage_connection_string
        )

    def send_stage_message(self, queue: str, message: Mapping[str, Any]) -> None:
        """Put a message on a stage queue as the factory does: base64 JSON."""
        service = QueueServiceClient.from_connection_string(
            self.stack.storage_connection_string, api_version=QUEUE_API_VERSION
        )
        body = json.dumps(dict(message), separators=(",", ":"))
        client = service.get_queue_client(queue)
        client.send_message(base64.b64encode(body.encode()).decode())

    def queue_lengths(self) -> dict[str, int]:
        """Return the approximate number of messages in each queue."""
        service = QueueServiceClient.from_connection_string(
            self.stack.storage_connection_string, api_version=QUEUE_API_VERSION
        )
        return {
            queue.name: int(
                service.get_queue_client(queue.name)
                .get_queue_properties()
                .approximate_message_count
                or 0
            )
            for queue in service.list_queues()
        }

    def storage_counts(self) -> dict[str, int]:
        """Return the dev host's storage requests so far, by kind (needs count_storage)."""
        try:
            data = json.loads(self.counts_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(key): int(value) for key, value in data["counts"].items()}

    # The emulator

    @property
    def control_url(self) -> str:
        return self.stack.emulator.control_endpoint

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call one of the emulator's /_emulator controls; return its JSON or None."""
        response = self._arm.request(
            method, f"{self.control_url}{path}", json=body, timeout=60
        )
        if response.status_code >= 400:
            raise HarnessError(
                f"{method} /_emulator{path} returned {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None

    def request_log(self) -> list[dict[str, Any]]:
        """Return every entry of the emulator's request log, oldest first."""
        path = self.stack.state_dir / "emulator" / "requests.jsonl"
        with path.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]

    def emulator_operations(self) -> list[dict[str, Any]]:
        """Return the emulator's long-running operations as its state file stores them."""
        path = self.stack.state_dir / "emulator" / "state.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data.get("operations", []))

    def arm_get(self, path: str, **params: str) -> dict[str, Any]:
        """GET an ARM path from the emulator with a managed identity token."""
        query = {"api-version": DTL_API_VERSION} | params
        response = self._arm.get(
            f"{self.stack.emulator.arm_endpoint}{path}",
            params=query,
            headers={"Authorization": f"Bearer {self._arm_token()}"},
            timeout=60,
        )
        if response.status_code != 200:
            raise HarnessError(
                f"GET {path} returned {response.status_code}: {response.text}"
            )
        data: dict[str, Any] = response.json()
        return data

    def arm_list(self, path: str, **params: str) -> Iterator[dict[str, Any]]:
        data = self.arm_get(path, **params)
        yield from data.get("value", [])
        while data.get("nextLink"):
            response = self._arm.get(
                data["nextLink"],
                headers={"Authorization": f"Bearer {self._arm_token()}"},
                timeout=60,
            )
            data = response.json()
            yield from data.get("value", [])

    def _arm_token(self) -> str:
        if self._token is not None and self._token[1] > time.time() + 60:
            return self._token[0]
        emulator = self.stack.emulator
        response = self._arm.get(
            emulator.identity_endpoint,
            params={"api-version": "2019-08-01", "resource": ARM_RESOURCE},
            headers={"X-IDENTITY-HEADER": emulator.identity_header},
            timeout=30,
        )
        response.raise_for_status()
        data = response.json()
        self._token = (str(data["access_token"]), float(data["expires_on"]))
        return self._token[0]

    # The dev host process

    def devhost_log(self) -> str:
        """Return what the dev host has logged so far (all its starts)."""
        path = self.stack.state_dir / "logs" / "devhost.log"
        return path.read_text(encoding="utf-8", errors="replace")

    def devhost_peak_rss_bytes(self) -> int | None:
        """Return the dev host's peak resident set size (VmHWM), or None if unknown."""
        process = self.stack.processes.get("devhost")
        if process is None:
            return None
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return None
