"""Start, watch and stop the subprocesses of the local stack."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOOPBACK = "127.0.0.1"
POLL_INTERVAL_SECONDS = 0.05
LOG_TAIL_LINES = 30
_LOG_TAIL_BYTES = 64 * 1024


class StackError(Exception):
    """Base class of the errors raised by the local stack launcher."""


class ServiceStartError(StackError):
    """A service did not become ready; carries the tail of its log."""

    def __init__(self, service: str, reason: str, log_path: Path) -> None:
        self.service = service
        self.reason = reason
        self.log_path = log_path
        self.log_tail = read_log_tail(log_path)
        super().__init__(
            f"{service} failed to start: {reason}. "
            f"Last lines of {log_path}:\n{self.log_tail or '(log is empty)'}"
        )


class ServiceTimeoutError(ServiceStartError):
    """A service was still running but not ready when the timeout expired."""


class ServiceExitedError(ServiceStartError):
    """A service exited before it became ready."""


def find_free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on host that was free a moment ago.

    Another process can take the port between this call and its use, so
    callers that start a server on it retry with a new port on failure.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def is_port_open(port: int, host: str = LOOPBACK) -> bool:
    """Return True when a TCP connection to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a log file, or an empty string if it is missing."""
    try:
        with log_path.open("rb") as log_file:
            log_file.seek(0, os.SEEK_END)
            size = log_file.tell()
            log_file.seek(max(0, size - _LOG_TAIL_BYTES))
            data = log_file.read()
    except FileNotFoundError:
        return ""

    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class ServiceProcess:
    """A service started in its own process group, with output in a log file."""

    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.process.pid

    def is_running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return read_log_tail(self.log_path, lines)

    def stop(self, grace_seconds: float = 5.0) -> int:
        """Send SIGTERM to the process group, then SIGKILL after grace_seconds.

        Returns the exit code of the service process.
        """
        if self.is_running():
            logger.info("stopping %s (pid %d)", self.name, self.pid)
            _signal_group(self.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout=grace_seconds)
            except subprocess.TimeoutExpired:
                logger.warning(
                    "%s (pid %d) still running %.1f s after SIGTERM, sending SIGKILL",
                    self.name,
                    self.pid,
                    grace_seconds,
                )
        return self.kill()

    def kill(self) -> int:
        """Send SIGKILL to the process group at once, as a crash would end it.

        A process that has already exited is not signalled, because the
        system may have given its pid to another process.
        """
        if self.is_running():
            _signal_group(self.pid, signal.SIGKILL)
        return self.process.wait()


def start_service(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ServiceProcess:
    """Start argv in a new session, appending stdout and stderr to log_path.

    The new session keeps a terminal's Ctrl-C away from the service, so the
    launcher decides the order in which services stop.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        log_file.write(f"--- {time.strftime('%H:%M:%S')} starting {name}\n".encode())
        log_file.flush()
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )

    logger.info("started %s (pid %d), log %s", name, process.pid, log_path)
    return ServiceProcess(
        name=name, argv=list(argv), log_path=log_path, process=process
    )


def wait_until_ready(
    service: ServiceProcess,
    probe: Callable[[], T | None],
    *,
    timeout: float,
    condition: str,
) -> T:
    """Call probe until it returns a value other than None and return that value.

    Raises ServiceExitedError when the service exits first and
    ServiceTimeoutError when timeout seconds pass; condition names what the
    probe waits for, in the error message.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None:
            return result

        exit_code = service.process.poll()
        if exit_code is not None:
            raise ServiceExitedError(
                service.name,
                f"the process exited with code {exit_code} before {condition}",
                service.log_path,
            )

        if time.monotonic() >= deadline:
            raise ServiceTimeoutError(
                service.name,
                f"timed out after {timeout:g} s waiting until {condition}",
                service.log_path,
            )

        time.sleep(POLL_INTERVAL_SECONDS)


def stop_detached(
    pid: int, expected_argv: Sequence[str], grace_seconds: float = 5.0
) -> bool:
    """Stop a service that an earlier launcher process started and left running.

    The service is identified by pid and checked against its recorded
    command line first, so a pid that the system reused for another program
    is left alone. Returns True when a matching process was stopped.
    """
    if not is_service_running(pid, expected_argv):
        return False

    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline:
        if not is_service_running(pid, expected_argv):
            return True
        time.sleep(POLL_INTERVAL_SECONDS)

    _signal_group(pid, signal.SIGKILL)
    return True


def is_service_running(pid: int, expected_argv: Sequence[str]) -> bool:
    """Return True when pid runs and its arguments match expected_argv[1:]."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False

    # A zombie keeps its pid until its parent reaps it, but it no longer runs.
    state = stat.rsplit(")", 1)[-1].split()[0]
    if state == "Z":
        return False

    # Compare the arguments only: a launcher script such as azurite's shows
    # up in /proc as its interpreter followed by the script's real path.
    argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    expected_args = list(expected_argv[1:])
    return argv[len(argv) - len(expected_args) :] == expected_args


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """Signal the process group led by pid (start_service makes each service one)."""
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        logger.debug("process group %d already gone", pid)
