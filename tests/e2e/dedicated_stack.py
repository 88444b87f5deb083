"""A local stack of its own for end-to-end tests that need another configuration.

The session's ``stack`` fixture follows the example repository. A test of a
different configuration (layered images, the PowerShell factory's layout)
starts Azurite, the emulator and the dev host of its own over a git
repository made from that configuration, so the two never share state.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from emulator.seed import (
    DEFAULT_FACTORY_LAB,
    DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION_ID,
    DEFAULT_TEAM_LABS,
)
from scripts.localstack import CommitInfo, ConfigRepo, LocalStack
from tests.payloads import encode, github_headers, github_push

# The labs of the emulator's default seed.
LAB_PREFIX = (
    f"/subscriptions/{DEFAULT_SUBSCRIPTION_ID}/resourceGroups/"
    f"{DEFAULT_RESOURCE_GROUP}/providers/Microsoft.DevTestLab/labs/"
)
FACTORY_LAB_ID = LAB_PREFIX + DEFAULT_FACTORY_LAB
TEAM_LAB_IDS = [LAB_PREFIX + name for name in DEFAULT_TEAM_LABS]
RUN_TIMEOUT_SECONDS = 300
FINAL_STATUSES = {"succeeded", "partially_succeeded", "failed", "cancelled"}
# Same variable as the session fixtures: wall-clock seconds per emulated second.
TIME_SCALE_VARIABLE = "FACTORY_TEST_TIME_SCALE"


@contextmanager
def dedicated_stack(
    state_dir: Path, config_dir: Path
) -> Iterator[tuple[LocalStack, ConfigRepo]]:
    """Start a whole stack over a new git repository of `config_dir`; stop it after."""
    repo, _ = ConfigRepo.create_from(config_dir, state_dir / "config-repo")
    time_scale = os.environ.get(TIME_SCALE_VARIABLE)
    stack = LocalStack(
        state_dir / "stack",
        config_repo=repo.path,
        time_scale=float(time_scale) if time_scale else None,
    )
    with stack:
        yield stack, repo


def push(
    stack: LocalStack, repo: ConfigRepo, changes: dict[str, Any], message: str
) -> str:
    """Commit `changes`, send GitHub's signed push webhook and return the run id."""
    before = repo.head() or "0" * 40
    commit = repo.commit(changes, message)
    return send_push(stack, repo, before, commit)


def send_push(
    stack: LocalStack, repo: ConfigRepo, before: str, commit: CommitInfo
) -> str:
    """Send GitHub's signed push webhook for a commit made already; return the run id."""
    body = encode(github_push(ref=repo.ref, before=before, commits=[commit]))
    response = stack.api().post(
        "/api/webhooks/github",
        data=body,
        headers=github_headers(body, stack.webhook_secret),
    )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["run_id"]
    return run_id


def wait_for_run(stack: LocalStack, run_id: str) -> dict[str, Any]:
    """Poll the run until it and all its tasks ended; return it with its tasks."""
    deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        data: dict[str, Any] = stack.api().get(f"/api/runs/{run_id}").json()
        if data["run"]["status"] in FINAL_STATUSES and all(
            task["status"] not in ("pending", "running") for task in data["tasks"]
        ):
            return data
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {RUN_TIMEOUT_SECONDS} s")


def push_and_wait(
    stack: LocalStack, repo: ConfigRepo, changes: dict[str, Any], message: str
) -> dict[str, Any]:
    return wait_for_run(stack, push(stack, repo, changes, message))


def tasks_of(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [task for task in data["tasks"] if task["kind"] == kind]


def emulator_control(
    stack: LocalStack, method: str, path: str, **kwargs: Any
) -> requests.Response:
    """Call a test control of the emulator, such as ``content`` or ``faults``."""
    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    response = session.request(
        method,
        f"{stack.emulator.control_endpoint.rstrip('/')}/{path}",
        verify=stack.emulator.ca_bundle,
        timeout=30,
        **kwargs,
    )
    response.raise_for_status()
    return response


def disk_record(stack: LocalStack, resource_id: str) -> dict[str, Any]:
    """Return the emulator's record of what a custom image's disk contains."""
    response = emulator_control(
        stack, "GET", "content", params={"resource_id": resource_id}
    )
    record: dict[str, Any] = response.json()["record"]
    return record
