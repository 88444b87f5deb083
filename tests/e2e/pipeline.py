"""Drive the pipeline through a running stack: push commits, wait for runs, read labs."""

from __future__ import annotations

import time
from typing import Any

from scripts.localstack import ConfigRepo, LocalStack
from tests.payloads import encode, github_headers, github_push

RUN_TIMEOUT_SECONDS = 240
FINAL_STATUSES = {"succeeded", "partially_succeeded", "failed", "cancelled"}


def send_push(
    stack: LocalStack, repo: ConfigRepo, changes: dict[str, Any], message: str
) -> str:
    """Commit ``changes``, send GitHub's signed push webhook and return the run id."""
    before = repo.head() or "0" * 40
    commit = repo.commit(changes, message)
    body = encode(github_push(ref=repo.ref, before=before, commits=[commit]))
    response = stack.api().post(
        "/api/webhooks/github",
        data=body,
        headers=github_headers(body, stack.webhook_secret),
    )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def wait_for_run(
    stack: LocalStack, run_id: str, timeout: float = RUN_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Poll the run until it ends; return the run with its tasks."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data: dict[str, Any] = stack.api().get(f"/api/runs/{run_id}").json()
        if data["run"]["status"] in FINAL_STATUSES and all(
            task["status"] not in ("pending", "running") for task in data["tasks"]
        ):
            return data
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def wait_for(condition: Any, what: str, timeout: float = 60) -> Any:
    """Poll ``condition`` until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def tasks_of(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [t for t in data["tasks"] if t["kind"] == kind]
