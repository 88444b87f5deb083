"""Notifications when a run ends: a JSON webhook, and a GitHub commit status.

Both are optional and best effort: a failed notification is logged and
never fails the run. The webhook (``FACTORY_NOTIFY_URL``) receives the run
and one entry per task. A run started by a GitHub push gets a commit status
on the pushed commit when ``FACTORY_GITHUB_STATUS_TOKEN`` is set: pending
when planning starts, then the outcome.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.error
import urllib.request
from typing import Any

from shared.context import Factory
from shared.models import Run, RunStatus

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
ATTEMPTS = 3
STATUS_CONTEXT = "image-factory"
# GitHub limits a commit status description to 140 characters.
MAX_DESCRIPTION = 140
REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
GITHUB_STATES = {
    RunStatus.SUCCEEDED: "success",
    RunStatus.PARTIALLY_SUCCEEDED: "failure",
    RunStatus.FAILED: "failure",
    RunStatus.CANCELLED: "error",
}


def run_started(factory: Factory, run: Run) -> None:
    _github_status(factory, run, "pending", "building golden images")


def run_ended(factory: Factory, run: Run) -> None:
    """Send the configured notifications for a run that reached a final status."""
    status = RunStatus(run.status)
    if factory.settings.notify_url:
        tasks = factory.store.list_tasks(run.run_id)
        payload = {
            "event": "run.completed",
            "run": run.to_api(),
            "tasks": [
                {
                    key: value
                    for key, value in task.to_api().items()
                    if key
                    in ("task_id", "kind", "image", "lab", "version", "status", "error")
                }
                for task in sorted(tasks, key=lambda t: t.task_id)
            ],
        }
        _post(factory.settings.notify_url, payload, {}, f"run {run.run_id} webhook")
    description = f"{status.value.replace('_', ' ')}: {run.succeeded} of {run.total} tasks succeeded"
    _github_status(factory, run, GITHUB_STATES[status], description)


def _github_status(factory: Factory, run: Run, state: str, description: str) -> None:
    token = factory.settings.github_status_token
    if not token or run.trigger != "push" or not run.repository or not run.commit:
        return
    if not REPOSITORY_PATTERN.match(run.repository):
        logger.warning(
            "run %s: no commit status for repository %r", run.run_id, run.repository
        )
        return
    url = f"{factory.settings.github_api_url}/repos/{run.repository}/statuses/{run.commit}"
    body = {
        "state": state,
        "description": description[:MAX_DESCRIPTION],
        "context": STATUS_CONTEXT,
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    _post(url, body, headers, f"run {run.run_id} commit status {state}")


def _post(url: str, body: dict[str, Any], headers: dict[str, str], what: str) -> bool:
    data = json.dumps(body).encode()
    request_headers = {
        "Content-Type": "application/json",
        "User-Agent": "image-factory",
        **headers,
    }
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(
            url, data=data, headers=request_headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                logger.info("sent %s (HTTP %d)", what, response.status)
                return True
        except urllib.error.HTTPError as exc:
            retryable = exc.code in (408, 429) or exc.code >= 500
            logger.warning(
                "sending %s failed: HTTP %d (attempt %d)", what, exc.code, attempt
            )
            if not retryable:
                return False
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            logger.warning("sending %s failed: %s (attempt %d)", what, exc, attempt)
        if attempt < ATTEMPTS:
            time.sleep(attempt)
    logger.error("gave up sending %s after %d attempts", what, ATTEMPTS)
    return False
