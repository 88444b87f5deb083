"""Helpers of the dev host tests: free ports, Azurite and dev host subprocesses, waiting."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_APP = Path(__file__).resolve().parent / "sample_app"
AZURITE = REPO_ROOT / "node_modules" / ".bin" / "azurite"

# Azurite's well-known development account, documented as public.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """Return ports on 127.0.0.1 that were free a moment ago, chosen by the OS."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for(condition: Callable[[], T | None], timeout: float, description: str) -> T:
    """Poll the condition until it returns a truthy value; raise AssertionError with the description on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {description}")


class AzuriteProcess:
    """Azurite on three free loopback ports, with its data under ``location``."""

    def __init__(self, location: Path) -> None:
        self.location = location
        self.blob_port, self.queue_port, self.table_port = free_ports(3)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def connection_string(self) -> str:
        """Connection string with explicit endpoints, since the ports are not the defaults."""
        base = f"http://127.0.0.1:{{}}/{ACCOUNT_NAME}"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={base.format(self.blob_port)};"
            f"QueueEndpoint={base.format(self.queue_port)};"
            f"TableEndpoint={base.format(self.table_port)}"
        )

    def start(self, timeout: float = 30.0) -> None:
        """Start Azurite and wait until the queue service accepts connections."""
        argv = [str(AZURITE), "--disableTelemetry", "--skipApiVersionCheck", "--silent"]
        argv += ["--location", str(self.location)]
        argv += [
            "--blobHost",
            "127.0.0.1",
            "--queueHost",
            "127.0.0.1",
            "--tableHost",
            "127.0.0.1",
        ]
        argv += ["--blobPort", str(self.blob_port), "--queuePort", str(self.queue_port)]
        argv += ["--tablePort", str(self.table_port)]
        log = (self.location.parent / "azurite.log").open("wb")
        self._process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(lambda: self._accepts(self.queue_port), timeout, "Azurite to listen")

    def _accepts(self, port: int) -> bool:
        assert self._process is not None
        if self._process.poll() is not None:
            raise AssertionError(
                f"Azurite exited with status {self._process.returncode}"
            )
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def stop(self) -> None:
        """Stop Azurite (its process group, since the npm wrapper starts node)."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)


class DevHostProcess:
    """``python -m devhost`` as a subprocess, with its log in ``state_dir``'s parent."""

    def __init__(
        self, app_dir: Path, state_dir: Path, environ: dict[str, str], *extra_args: str
    ) -> None:
        self.app_dir = app_dir
        self.state_dir = state_dir
        self.environ = environ
        self.extra_args = list(extra_args)
        self.log_path = state_dir.parent / f"{state_dir.name}-devhost.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def readiness_path(self) -> Path:
        return self.state_dir / "devhost.json"

    def start(self) -> DevHostProcess:
        argv = [
            sys.executable,
            "-m",
            "devhost",
            "--app-dir",
            str(self.app_dir),
            "--state-dir",
            str(self.state_dir),
        ]
        argv += ["--host", "127.0.0.1", "--port", "0", *self.extra_args]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **self.environ}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait for the readiness file that this process wrote and return it."""
        return wait_for(
            self._readiness, timeout, f"the dev host to write {self.readiness_path}"
        )

    def _readiness(self) -> dict[str, Any] | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the dev host exited with {self.process.returncode}:\n{self.log_text()}"
            )
        try:
            document: dict[str, Any] = json.loads(self.readiness_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return document if document.get("pid") == self.process.pid else None

    def send_signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the process to exit and return its status."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Stop the process with SIGTERM, or SIGKILL when it does not exit in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def log_text(self) -> str:
        return (
            self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        )


@dataclass
class SampleHost:
    """A running dev host with the sample app, its queues and its records file."""

    process: DevHostProcess
    readiness: dict[str, Any]
    settings: dict[str, str]
    records_file: Path

    @property
    def base_url(self) -> str:
        return str(self.readiness["base_url"])

    @property
    def function_key(self) -> str:
        return str(self.readiness["function_key"])

    @property
    def master_key(self) -> str:
        return str(self.readiness["master_key"])


def read_records(path: Path, function: str | None = None) -> list[dict[str, Any]]:
    """Return the records that the sample functions wrote, optionally of one function."""
    if not path.exists():
        return []
    records = [
        json.loads(line) for line in path.read_text().splitlines() if line.strip()
    ]
    return [
        record
        for record in records
        if function is None or record["function"] == function
    ]
