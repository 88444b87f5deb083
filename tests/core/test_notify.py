"""Run notifications against a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from shared.models import Run, Task
from shared.notify import run_ended, run_started
from shared.settings import Settings

COMMIT = "4b1e9c2d7a8f3e6b5c4d3e2f1a0b9c8d7e6f5a4b"


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.fail_next = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.fail_next:
            self.server.fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def factory_for(receiver: Receiver, tasks: list[Task]) -> Any:
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
            "FACTORY_CONFIG_REPO": "/unused",
            "FACTORY_NOTIFY_URL": receiver.url + "/hooks/factory",
            "FACTORY_GITHUB_API_URL": receiver.url,
            "FACTORY_GITHUB_STATUS_TOKEN": "ghs_token",
        }
    )
    return SimpleNamespace(
        settings=settings, store=SimpleNamespace(list_tasks=lambda run_id: tasks)
    )


def ended_run(status: str) -> Run:
    return Run(
        run_id="r1",
        trigger="push",
        ref="refs/heads/main",
        commit=COMMIT,
        repository="contoso/image-config",
        status=status,
        total=3,
        finished=3,
        succeeded=2,
        failed=1,
    )


def copy_task(status: str) -> Task:
    return Task(
        run_id="r1",
        task_id="copy|linux/ubuntu|team-web",
        kind="copy",
        image="linux/ubuntu",
        version="20261204.153000",
        content_hash="ab",
        os_type="Linux",
        lab="team-web",
        status=status,
        error="quota exceeded" if status == "failed" else "",
    )


def test_notify_webhook_has_per_target_results(receiver: Receiver) -> None:
    run_ended(
        factory_for(receiver, [copy_task("failed")]), ended_run("partially_succeeded")
    )
    webhook = next(
        body for path, _, body in receiver.received if path == "/hooks/factory"
    )
    assert webhook["event"] == "run.completed"
    assert webhook["run"]["status"] == "partially_succeeded"
    assert webhook["tasks"] == [
        {
            "task_id": "copy|linux/ubuntu|team-web",
            "kind": "copy",
            "image": "linux/ubuntu",
            "lab": "team-web",
            "version": "20261204.153000",
            "status": "failed",
            "error": "quota exceeded",
        }
    ]


def test_notify_commit_status_on_pushed_commit(receiver: Receiver) -> None:
    run_ended(factory_for(receiver, []), ended_run("succeeded"))
    path, headers, body = next(r for r in receiver.received if "/statuses/" in r[0])
    assert path == f"/repos/contoso/image-config/statuses/{COMMIT}"
    assert headers["Authorization"] == "Bearer ghs_token"
    assert body["state"] == "success"
    assert body["context"] == "image-factory"


def test_notify_pending_status_when_planning(receiver: Receiver) -> None:
    run_started(factory_for(receiver, []), ended_run("planning"))
    assert [body["state"] for _, _, body in receiver.received] == ["pending"]


def test_notify_retries_server_errors(receiver: Receiver) -> None:
    receiver.fail_next = 1
    run_ended(factory_for(receiver, []), ended_run("failed"))
    states = [
        body.get("state") for path, _, body in receiver.received if "/statuses/" in path
    ]
    assert states == ["failure"]


def test_notify_skips_status_without_repository(receiver: Receiver) -> None:
    run = ended_run("succeeded")
    run.repository = ""
    run_ended(factory_for(receiver, []), run)
    assert all("/statuses/" not in path for path, _, _ in receiver.received)
