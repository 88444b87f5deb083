"""Tests of the local stack launcher: processes, readiness errors, Azurite, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from scripts.localstack import (
    AzuritePorts,
    LocalStack,
    ServiceExitedError,
    ServiceTimeoutError,
)
from scripts.localstack.processes import (
    is_port_open,
    is_service_running,
    start_service,
    wait_until_ready,
)
from scripts.localstack.stack import REPO_ROOT

FAKE_EMULATOR = """
import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--state-dir")
parser.add_argument("--port")
parser.add_argument("--storage-connection-string")
parser.add_argument("--time-scale")
args = parser.parse_args()
print("fake emulator started", flush=True)
info = {key: "https://127.0.0.1:1/" + key for key in (
    "arm_endpoint", "ca_bundle", "identity_endpoint", "identity_header",
    "subscription_id", "factory_lab_id", "control_endpoint")}
info["team_lab_ids"] = ["lab-a", "lab-b"]
info["storage_connection_string"] = args.storage_connection_string
info["time_scale"] = args.time_scale
pathlib.Path(args.state_dir, "connection.json").write_text(json.dumps(info))
import time
time.sleep(600)
"""

FAKE_DEVHOST = """
import argparse, json, os, pathlib
from http.server import BaseHTTPRequestHandler, HTTPServer
parser = argparse.ArgumentParser()
parser.add_argument("--app-dir")
parser.add_argument("--state-dir")
parser.add_argument("--port", type=int)
args = parser.parse_args()

class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "path": self.path,
            "key": self.headers.get("x-functions-key"),
            "webhook_secret": os.environ["FACTORY_GITHUB_WEBHOOK_SECRET"],
            "config_repo": os.environ.get("FACTORY_CONFIG_REPO"),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = HTTPServer(("127.0.0.1", args.port), Echo)
info = {"base_url": "http://127.0.0.1:%d" % server.server_port,
        "function_key": "function-key-%d" % os.getpid(),
        "master_key": "master-key", "pid": os.getpid(), "functions": []}
pathlib.Path(args.state_dir, "devhost.json").write_text(json.dumps(info))
server.serve_forever()
"""

NEVER_READY = """
print("fake service is booting", flush=True)
import time
time.sleep(600)
"""


def _fake_repo_root(tmp_path: Path, modules: dict[str, str]) -> Path:
    """Create a repository root with the real Azurite and the given fake modules."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / "node_modules").symlink_to(REPO_ROOT / "node_modules")
    for name, source in modules.items():
        package = root / name
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "__main__.py").write_text(textwrap.dedent(source))
    return root


def _python(source: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(source)]


def test_connection_string_has_explicit_endpoints() -> None:
    connection_string = AzuritePorts(
        blob=1001, queue=1002, table=1003
    ).connection_string()

    assert not connection_string.endswith(";")
    assert "BlobEndpoint=http://127.0.0.1:1001/devstoreaccount1" in connection_string
    assert "QueueEndpoint=http://127.0.0.1:1002/devstoreaccount1" in connection_string
    assert "TableEndpoint=http://127.0.0.1:1003/devstoreaccount1" in connection_string


def test_connection_string_accepted_by_sdk_clients() -> None:
    connection_string = AzuritePorts(
        blob=1001, queue=1002, table=1003
    ).connection_string()

    tables = TableServiceClient.from_connection_string(connection_string)
    blobs = BlobServiceClient.from_connection_string(connection_string)

    assert tables.url.startswith("http://127.0.0.1:1003/devstoreaccount1")
    assert blobs.url.startswith("http://127.0.0.1:1001/devstoreaccount1")


def test_wait_until_ready_timeout_message(tmp_path: Path) -> None:
    service = start_service("fake", _python(NEVER_READY), tmp_path / "fake.log")
    try:
        with pytest.raises(ServiceTimeoutError) as raised:
            wait_until_ready(
                service, lambda: None, timeout=0.5, condition="it writes ready.json"
            )
    finally:
        service.stop(grace_seconds=1)

    message = str(raised.value)
    assert message.startswith("fake failed to start: timed out after 0.5 s")
    assert "waiting until it writes ready.json" in message
    assert "fake service is booting" in message
    assert raised.value.log_path == tmp_path / "fake.log"


def test_wait_until_ready_exit_message(tmp_path: Path) -> None:
    source = "import sys; print('port already in use', flush=True); sys.exit(3)"
    service = start_service("fake", _python(source), tmp_path / "fake.log")

    with pytest.raises(ServiceExitedError) as raised:
        wait_until_ready(service, lambda: None, timeout=30, condition="it listens")

    message = str(raised.value)
    assert "the process exited with code 3 before it listens" in message
    assert "port already in use" in raised.value.log_tail


def test_wait_until_ready_returns_probe_value(tmp_path: Path) -> None:
    service = start_service("fake", _python(NEVER_READY), tmp_path / "fake.log")
    try:
        result = wait_until_ready(
            service, lambda: {"ready": True}, timeout=5, condition="x"
        )
    finally:
        service.stop(grace_seconds=1)

    assert result == {"ready": True}


def test_service_stop_kills_after_grace(tmp_path: Path) -> None:
    source = """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    time.sleep(600)
    """
    service = start_service("stubborn", _python(source), tmp_path / "stubborn.log")
    wait_until_ready(
        service,
        lambda: "SIGTERM" in service.log_tail() or None,
        timeout=10,
        condition="x",
    )

    started = time.monotonic()
    exit_code = service.stop(grace_seconds=0.5)

    assert exit_code == -9
    assert time.monotonic() - started < 5


def test_service_stop_ends_child_processes(tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    source = f"""
    import pathlib, subprocess, sys, time
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    pathlib.Path({str(child_pid_file)!r}).write_text(str(child.pid))
    time.sleep(600)
    """
    service = start_service("parent", _python(source), tmp_path / "parent.log")
    wait_until_ready(
        service, lambda: child_pid_file.exists() or None, timeout=10, condition="x"
    )
    child_pid = int(child_pid_file.read_text())

    service.stop(grace_seconds=2)

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child_pid}").exists():
        time.sleep(0.05)
    assert not is_service_running(
        child_pid, ["python", "-c", "import time; time.sleep(600)"]
    )


@pytest.mark.integration
def test_azurite_starts_and_stops(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path / "stack")
    try:
        connection_string = stack.start("azurite").storage_connection_string
        tables = TableServiceClient.from_connection_string(connection_string)
        tables.create_table("launchercheck")
        queue = QueueClient.from_connection_string(connection_string, "launcher-check")
        queue.create_queue()
        queue.send_message("hello")
        blobs = BlobServiceClient.from_connection_string(connection_string)
        blobs.create_container("launcher-check")
        table_names = [table.name for table in tables.list_tables()]
        messages = [message.content for message in queue.peek_messages()]
        containers = [container.name for container in blobs.list_containers()]
        azurite = stack.processes["azurite"]
        port = int(
            connection_string.split("TableEndpoint=http://127.0.0.1:")[1].split("/")[0]
        )
    finally:
        stack.stop()

    assert table_names == ["launchercheck"]
    assert messages == ["hello"]
    assert containers == ["launcher-check"]
    assert not azurite.is_running()
    assert not is_port_open(port)
    assert "azurite" not in stack.processes
    assert not stack.state_file.exists()


@pytest.mark.integration
def test_emulator_readiness_timeout_names_log(tmp_path: Path) -> None:
    root = _fake_repo_root(tmp_path, {"emulator": NEVER_READY})
    stack = LocalStack(tmp_path / "stack", repo_root=root)
    # Azurite is real and gets the default timeout: on a loaded machine it can
    # take longer than the short one that the fake emulator is given.
    stack.start_azurite()
    stack.startup_timeout = 1.5

    with pytest.raises(ServiceTimeoutError) as raised:
        stack.start()

    message = str(raised.value)
    assert message.startswith("emulator failed to start: timed out after 1.5 s")
    assert "connection.json" in message
    assert "fake service is booting" in message
    assert str(tmp_path / "stack" / "logs" / "emulator.log") in message
    assert stack.processes == {}


@pytest.mark.integration
def test_devhost_restart_follows_new_port(tmp_path: Path) -> None:
    root = _fake_repo_root(
        tmp_path, {"emulator": FAKE_EMULATOR, "devhost": FAKE_DEVHOST}
    )
    stack = LocalStack(
        tmp_path / "stack",
        repo_root=root,
        config_repo=tmp_path / "config",
        webhook_secret="secret-for-test",
        time_scale=50,
    )
    with stack:
        first = stack.api().get("/api/runs").json()
        first_url = stack.base_url
        first_pid = stack.devhost.pid
        assert stack.emulator.team_lab_ids == ["lab-a", "lab-b"]
        assert stack.emulator.raw["time_scale"] == "50"
        assert (
            stack.emulator.storage_connection_string == stack.storage_connection_string
        )

        stack.restart_devhost()
        second = stack.api().get("/api/runs").json()

    assert first["path"] == "/api/runs"
    assert first["key"] == f"function-key-{first_pid}"
    assert first["webhook_secret"] == "secret-for-test"
    assert first["config_repo"] == str(tmp_path / "config")
    assert second["key"] != first["key"]
    assert stack.processes == {}
    assert first_url.startswith("http://127.0.0.1:")


@pytest.mark.integration
def test_cli_up_then_down(tmp_path: Path) -> None:
    state_dir = tmp_path / "stack"
    command = [sys.executable, "-m", "scripts.localstack"]
    env = dict(os.environ)

    up = subprocess.run(
        [*command, "up", "--until", "azurite", "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    state = json.loads((state_dir / "stack.json").read_text())
    azurite = state["processes"]["azurite"]
    running_after_up = is_service_running(azurite["pid"], azurite["argv"])

    down = subprocess.run(
        [*command, "down", "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert up.returncode == 0, up.stderr
    assert "Local stack is running" in up.stdout
    assert running_after_up
    assert down.returncode == 0, down.stderr
    assert f"azurite: stopped (pid {azurite['pid']})" in down.stdout
    assert not is_service_running(azurite["pid"], azurite["argv"])
    assert not (state_dir / "stack.json").exists()
