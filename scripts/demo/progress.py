"""Poll a run through the HTTP API and show its progress."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from typing import Any, TextIO

import requests

FINAL_RUN_STATUSES = frozenset(
    {"succeeded", "partially_succeeded", "failed", "cancelled"}
)
TASK_STATUS_ORDER = (
    "succeeded",
    "running",
    "pending",
    "failed",
    "skipped",
    "cancelled",
)
POLL_INTERVAL_SECONDS = 0.5
# Transient API failures (a refused connection, an HTTP 5xx) are retried until
# the run's deadline; this many in a row end the wait early.
MAX_CONSECUTIVE_ERRORS = 20


class RunWaitError(Exception):
    """The run did not reach a final status in time, or the API kept failing."""


def summarize_tasks(tasks: list[dict[str, Any]]) -> str:
    """Return task counts per kind and status, such as 'build 1 running, 1 pending'."""
    by_kind: dict[str, Counter[str]] = {}
    for task in tasks:
        by_kind.setdefault(str(task.get("kind")), Counter())[
            str(task.get("status"))
        ] += 1

    parts = []
    for kind in sorted(by_kind, key=lambda name: (name != "build", name)):
        counts = by_kind[kind]
        known = [status for status in TASK_STATUS_ORDER if counts[status]]
        others = sorted(status for status in counts if status not in TASK_STATUS_ORDER)
        described = ", ".join(f"{counts[status]} {status}" for status in known + others)
        parts.append(f"{kind} {described}")
    return "   ".join(parts) if parts else "no tasks yet"


class ProgressDisplay:
    """One line that updates in place on a terminal, or a new line per change."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.interactive = stream.isatty()
        self._last_state: str | None = None
        self._last_width = 0

    @property
    def last_state(self) -> str | None:
        """Run status and task counts shown last, without the elapsed time."""
        return self._last_state

    def update(
        self, elapsed: float, run_status: str, tasks: list[dict[str, Any]]
    ) -> None:
        state = f"run {run_status:<10} {summarize_tasks(tasks)}"
        line = f"  {elapsed:6.1f} s  {state}"
        if self.interactive:
            width = shutil.get_terminal_size().columns - 1
            line = line[:width]
            padding = " " * max(0, self._last_width - len(line))
            self.stream.write("\r" + line + padding)
            self.stream.flush()
            self._last_width = len(line)
        elif state != self._last_state:
            self.stream.write(line + "\n")
            self.stream.flush()
        self._last_state = state

    def finish(self) -> None:
        if self.interactive and self._last_width:
            self.stream.write("\n")
            self.stream.flush()


def wait_for_run(
    api: requests.Session, run_id: str, *, timeout: float, display: ProgressDisplay
) -> dict[str, Any]:
    """Poll GET /api/runs/{run_id} until the run's status is final and return the body.

    Raises RunWaitError on timeout, and when the API fails
    MAX_CONSECUTIVE_ERRORS times in a row.
    """
    started = time.monotonic()
    errors = 0
    last_problem = "no response yet"
    try:
        while True:
            elapsed = time.monotonic() - started
            if elapsed > timeout:
                raise RunWaitError(
                    f"run {run_id} did not finish within {timeout:g} s "
                    f"(last state: {display.last_state or last_problem})"
                )

            body, problem = _fetch_run(api, run_id)
            if body is None:
                errors += 1
                last_problem = problem
                if errors >= MAX_CONSECUTIVE_ERRORS:
                    raise RunWaitError(
                        f"reading run {run_id} failed {errors} times in a row: {problem}"
                    )
            else:
                errors = 0
                status = str(body["run"]["status"])
                display.update(elapsed, status, body.get("tasks", []))
                if status in FINAL_RUN_STATUSES:
                    return body

            time.sleep(POLL_INTERVAL_SECONDS)
    finally:
        display.finish()


def _fetch_run(api: requests.Session, run_id: str) -> tuple[dict[str, Any] | None, str]:
    """Return (body, "") or (None, the problem) for one GET of the run.

    Raises RunWaitError when the API rejects the key, which no retry fixes.
    """
    try:
        response = api.get(f"/api/runs/{run_id}", timeout=10)
    except requests.RequestException as exc:
        return None, f"request failed: {exc}"

    if response.status_code in (401, 403):
        raise RunWaitError(
            f"the API rejected the function key for run {run_id}: "
            f"HTTP {response.status_code} {response.text[:300]}"
        )
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return None, f"the response is not JSON: {response.text[:300]}"
    if not isinstance(body, dict) or not isinstance(body.get("run"), dict):
        return None, f"the response has no 'run' object: {response.text[:300]}"
    return body, ""
