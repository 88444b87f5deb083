"""LocalStack: Azurite, the ARM emulator and the dev host as one unit."""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from scripts.localstack.endpoints import (
    ApiSession,
    AzuritePorts,
    DevhostInfo,
    EmulatorInfo,
    read_json_file,
)
from scripts.localstack.processes import (
    LOOPBACK,
    ServiceExitedError,
    ServiceProcess,
    StackError,
    find_free_port,
    is_port_open,
    start_service,
    wait_until_ready,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("azurite", "emulator", "devhost")
STATE_FILE_NAME = "stack.json"
DEFAULT_STARTUP_TIMEOUT_SECONDS = 60.0
DEFAULT_GRACE_SECONDS = 5.0
MONITOR_INTERVAL_SECONDS = "2"
IMAGE_STORE_CONTAINER = "images"
_AZURITE_PORT_ATTEMPTS = 3


class LocalStack:
    """Start and stop the local services under one state directory.

    Each service writes its data under state_dir/<service> and its output
    to state_dir/logs/<service>.log. Services start in dependency order
    (Azurite, emulator, dev host); start_emulator and start_devhost start
    what they depend on first. Used as a context manager, the whole stack
    starts on entry and stops on exit, also on an exception or Ctrl-C.
    emulator_args and devhost_args are appended to those services' command
    lines, for example ``["--seed-labs", path]`` or ``["--message-lease", "5"]``.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        repo_root: Path = REPO_ROOT,
        config_repo: Path | None = None,
        config_branch: str = "main",
        webhook_secret: str | None = None,
        time_scale: float | None = None,
        extra_settings: Mapping[str, str] | None = None,
        emulator_args: Sequence[str] = (),
        devhost_args: Sequence[str] = (),
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_SECONDS,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.repo_root = Path(repo_root).resolve()
        self.config_repo = Path(config_repo).resolve() if config_repo else None
        self.config_branch = config_branch
        self.webhook_secret = webhook_secret or secrets.token_hex(20)
        self.time_scale = time_scale
        self.extra_settings = dict(extra_settings or {})
        self.emulator_args = list(emulator_args)
        self.devhost_args = list(devhost_args)
        self.startup_timeout = startup_timeout
        self.grace_seconds = grace_seconds

        self.processes: dict[str, ServiceProcess] = {}
        self._azurite_ports: AzuritePorts | None = None
        self._emulator: EmulatorInfo | None = None
        self._devhost: DevhostInfo | None = None
        self._api: ApiSession | None = None

    # Lifecycle

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self, until: str = "devhost") -> LocalStack:
        """Start the services up to and including until, stopping all on failure."""
        if until not in SERVICES:
            raise ValueError(
                f"unknown service {until!r}; expected one of {', '.join(SERVICES)}"
            )

        starters = {
            "azurite": self.start_azurite,
            "emulator": self.start_emulator,
            "devhost": self.start_devhost,
        }
        try:
            starters[until]()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every running service, the last started first."""
        for name in reversed(SERVICES):
            process = self.processes.pop(name, None)
            if process is not None:
                process.stop(self.grace_seconds)

        if self._api is not None:
            self._api.close()
            self._api = None
        self._devhost = None
        self._emulator = None
        self._azurite_ports = None
        self.state_file.unlink(missing_ok=True)

    # Services

    def start_azurite(self) -> str:
        """Start Azurite unless it runs already; return its connection string."""
        if self._azurite_ports is not None:
            return self._azurite_ports.connection_string()

        executable = self.repo_root / "node_modules" / ".bin" / "azurite"
        if not executable.exists():
            raise StackError(
                f"Azurite is not installed at {executable}; run 'make setup' first"
            )

        for attempt in range(1, _AZURITE_PORT_ATTEMPTS + 1):
            ports = AzuritePorts(find_free_port(), find_free_port(), find_free_port())
            try:
                self._start_and_wait(
                    "azurite",
                    self._azurite_argv(executable, ports),
                    probe=functools.partial(_all_ports_open, ports),
                    condition="its blob, queue and table ports accept connections",
                )
            except ServiceExitedError:
                # Another process may have taken a port that find_free_port chose.
                if attempt == _AZURITE_PORT_ATTEMPTS:
                    raise
                logger.warning(
                    "azurite exited during start (attempt %d), retrying", attempt
                )
                continue

            self._azurite_ports = ports
            self._write_state_file()
            return ports.connection_string()

        raise AssertionError("unreachable: the last attempt returns or raises")

    def start_emulator(self) -> EmulatorInfo:
        """Start the ARM emulator (and Azurite first) unless it runs already."""
        if self._emulator is not None:
            return self._emulator

        connection_string = self.start_azurite()
        state_dir = self.state_dir / "emulator"
        state_dir.mkdir(parents=True, exist_ok=True)
        ready_file = state_dir / "connection.json"
        ready_file.unlink(missing_ok=True)

        argv = [
            sys.executable,
            "-m",
            "emulator",
            "--state-dir",
            str(state_dir),
            "--port",
            "0",
        ]
        argv += ["--storage-connection-string", connection_string]
        if self.time_scale is not None:
            argv += ["--time-scale", f"{self.time_scale:g}"]
        argv += self.emulator_args

        data = self._start_and_wait(
            "emulator",
            argv,
            probe=lambda: read_json_file(ready_file),
            condition=f"it writes {ready_file}",
        )
        self._emulator = EmulatorInfo.from_json(data, ready_file)
        self._write_state_file()
        return self._emulator

    def start_devhost(self) -> DevhostInfo:
        """Start the dev host (and what it needs first) unless it runs already."""
        if self._devhost is not None:
            return self._devhost

        self.start_emulator()
        state_dir = self.state_dir / "devhost"
        state_dir.mkdir(parents=True, exist_ok=True)
        ready_file = state_dir / "devhost.json"
        ready_file.unlink(missing_ok=True)

        argv = [sys.executable, "-m", "devhost", "--app-dir", str(self.repo_root)]
        argv += ["--state-dir", str(state_dir), "--port", "0"]
        argv += self.devhost_args
        data = self._start_and_wait(
            "devhost",
            argv,
            probe=lambda: read_json_file(ready_file),
            condition=f"it writes {ready_file}",
            settings=self.function_app_settings(),
        )
        self._devhost = DevhostInfo.from_json(data, ready_file)
        self._write_state_file()
        return self._devhost

    def stop_devhost(self, *, kill: bool = False) -> None:
        """Stop the dev host; kill=True sends SIGKILL at once, like a crash."""
        process = self.processes.pop("devhost", None)
        self._devhost = None
        if process is None:
            return
        if kill:
            process.kill()
        else:
            process.stop(self.grace_seconds)

    def restart_devhost(self, *, kill: bool = True) -> DevhostInfo:
        """Stop the dev host (by SIGKILL unless kill=False) and start it again.

        Azurite and the emulator keep running, so queued messages and table
        state survive. The new dev host listens on a new port; api() follows it.
        """
        self.stop_devhost(kill=kill)
        return self.start_devhost()

    # Settings and accessors

    def function_app_settings(self) -> dict[str, str]:
        """Return the app settings that the dev host passes to the function app."""
        emulator = self.emulator
        settings = {
            "AzureWebJobsStorage": self.storage_connection_string,
            "FACTORY_CONFIG_BRANCH": self.config_branch,
            "FACTORY_GITHUB_WEBHOOK_SECRET": self.webhook_secret,
            # One local secret serves both providers' webhooks.
            "FACTORY_ADO_WEBHOOK_SECRET": self.webhook_secret,
            "FACTORY_ARM_ENDPOINT": emulator.arm_endpoint,
            "IDENTITY_ENDPOINT": emulator.identity_endpoint,
            "IDENTITY_HEADER": emulator.identity_header,
            "REQUESTS_CA_BUNDLE": emulator.ca_bundle,
            "FACTORY_MONITOR_INTERVAL_SECONDS": MONITOR_INTERVAL_SECONDS,
            "FACTORY_IMAGE_STORE_CONTAINER": IMAGE_STORE_CONTAINER,
        }
        if self.config_repo is not None:
            settings["FACTORY_CONFIG_REPO"] = str(self.config_repo)
        return settings | self.extra_settings

    @property
    def storage_connection_string(self) -> str:
        if self._azurite_ports is None:
            raise StackError("Azurite is not running; call start_azurite() first")
        return self._azurite_ports.connection_string()

    @property
    def emulator(self) -> EmulatorInfo:
        if self._emulator is None:
            raise StackError("the emulator is not running; call start_emulator() first")
        return self._emulator

    @property
    def devhost(self) -> DevhostInfo:
        if self._devhost is None:
            raise StackError("the dev host is not running; call start_devhost() first")
        return self._devhost

    @property
    def base_url(self) -> str:
        return self.devhost.base_url

    @property
    def function_key(self) -> str:
        return self.devhost.function_key

    @property
    def master_key(self) -> str:
        return self.devhost.master_key

    def api(self) -> ApiSession:
        """Return a shared session that sends the function key to the dev host."""
        if self._api is None:
            self._api = ApiSession(lambda: self.devhost)
        return self._api

    def admin_api(self) -> ApiSession:
        """Return a new session that sends the master key; the caller closes it."""
        return ApiSession(lambda: self.devhost, use_master_key=True)

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE_NAME

    def describe(self) -> dict[str, Any]:
        """Return what the state file records: processes and connection details."""
        return {
            "processes": {
                name: {
                    "pid": process.pid,
                    "argv": process.argv,
                    "log": str(process.log_path),
                }
                for name, process in self.processes.items()
            },
            "storage_connection_string": (
                self._azurite_ports.connection_string() if self._azurite_ports else None
            ),
            "emulator": self._emulator.raw if self._emulator else None,
            "devhost": self._devhost.raw if self._devhost else None,
            "config_repo": str(self.config_repo) if self.config_repo else None,
            "webhook_secret": self.webhook_secret,
        }

    # Helpers

    def _start_and_wait(
        self,
        name: str,
        argv: list[str],
        *,
        probe: Callable[[], T | None],
        condition: str,
        settings: Mapping[str, str] | None = None,
    ) -> T:
        """Start one service and wait for probe; stop that service if it fails."""
        env = self._child_env() | dict(settings or {})
        process = start_service(
            name, argv, self._log_path(name), env=env, cwd=self.repo_root
        )
        self.processes[name] = process
        try:
            return wait_until_ready(
                process, probe, timeout=self.startup_timeout, condition=condition
            )
        except BaseException:
            del self.processes[name]
            process.stop(self.grace_seconds)
            raise

    def _log_path(self, service: str) -> Path:
        return self.state_dir / "logs" / f"{service}.log"

    def _azurite_argv(self, executable: Path, ports: AzuritePorts) -> list[str]:
        location = self.state_dir / "azurite"
        location.mkdir(parents=True, exist_ok=True)
        return [
            str(executable),
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--silent",
            "--location",
            str(location),
            "--blobHost",
            LOOPBACK,
            "--queueHost",
            LOOPBACK,
            "--tableHost",
            LOOPBACK,
            "--blobPort",
            str(ports.blob),
            "--queuePort",
            str(ports.queue),
            "--tablePort",
            str(ports.table),
        ]

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONUNBUFFERED"] = "1"
        # Keep loopback traffic away from any proxy configured in the environment.
        for name in ("NO_PROXY", "no_proxy"):
            hosts = [host for host in env.get(name, "").split(",") if host]
            env[name] = ",".join([*hosts, LOOPBACK, "localhost"])
        return env

    def _write_state_file(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        # Only the owner may read it: it contains the webhook secret and the keys.
        temporary.touch(mode=0o600)
        temporary.chmod(0o600)
        temporary.write_text(
            json.dumps(self.describe(), indent=2) + "\n", encoding="utf-8"
        )
        temporary.replace(self.state_file)


def _all_ports_open(ports: AzuritePorts) -> bool | None:
    if all(is_port_open(port) for port in (ports.blob, ports.queue, ports.table)):
        return True
    return None
