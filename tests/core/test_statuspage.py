"""The status page renderer on recorded state, without a stack."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.models import ImageVersion, Run, RunStatus, Task, TaskStatus
from shared.statuspage import render_status_page

NOW = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
LAB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/"


class FakeStore:
    def __init__(self, runs: list[Run], tasks: list[Task]) -> None:
        self.runs = runs
        self.tasks = tasks
        self.versions = [
            ImageVersion("linux/app", "20261204.1500", "h1", "Linux", "", "", "r", "c"),
            ImageVersion("linux/app", "20261204.1000", "h0", "Linux", "", "", "r", "c"),
        ]

    def list_runs(self, limit: int) -> list[Run]:
        return self.runs[:limit]

    def list_tasks(self, run_id: str) -> list[Task]:
        return [task for task in self.tasks if task.run_id == run_id]

    def list_lab_images(self) -> list[dict[str, Any]]:
        return [
            {
                "lab_id": LAB + "dtl-web",
                "image": "linux/app",
                "version": "20261204.1500",
            },
            {
                "lab_id": LAB + "dtl-data",
                "image": "linux/app",
                "version": "20261204.1000",
            },
        ]

    def list_versions(self) -> list[ImageVersion]:
        return self.versions


class FakeFactory:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    def now(self) -> datetime:
        return NOW


def _page(error: str) -> str:
    run = Run(
        run_id="r-1",
        trigger="push",
        ref="refs/heads/main",
        status=RunStatus.PARTIALLY_SUCCEEDED,
        created_at=NOW - timedelta(minutes=30),
        finished_at=NOW,
        error=error,
    )
    task = Task(
        run_id="r-1",
        task_id="copy|linux/app|web",
        kind="copy",
        image="linux/app",
        version="20261204.1500",
        content_hash="h1",
        os_type="Linux",
        lab="web",
        status=TaskStatus.FAILED,
        error=error,
    )
    return render_status_page(FakeFactory(FakeStore([run], [task])))  # type: ignore[arg-type]


def test_status_page_escapes_state() -> None:
    page = _page("<script>alert(1)</script>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_status_page_redacts_errors() -> None:
    page = _page("copy into https://h/c/b.vhd?sv=1&sig=SECRETSIG failed: 403")
    assert "SECRETSIG" not in page
    assert "sig=REDACTED" in page


def test_status_page_marks_stale_lab() -> None:
    page = _page("")
    assert "<td class='current'>20261204.1500</td>" in page
    assert "<td class='stale'>20261204.1000</td>" in page


def test_status_page_opens_newest_run() -> None:
    page = _page("")
    assert "<details id='run-r-1' open>" in page
    assert "30 min 00 s" in page
