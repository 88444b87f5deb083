"""Tests of the demo's run checks, report rendering and progress display."""

from __future__ import annotations

import io
from typing import Any

from scripts.demo.content import ContentDigest, ContentLookupError, split_blob_url
from scripts.demo.progress import ProgressDisplay, summarize_tasks
from scripts.demo.render import render_report
from scripts.demo.report import ExpectedState, build_report

STORE = "http://127.0.0.1:10000/devstoreaccount1/images"
UBUNTU_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/team-a/customimages/linux-ubuntu-1"
WINDOWS_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/team-b/customimages/windows-1"


class FakeImageStore:
    container = "images"

    def __init__(self, digests: dict[str, ContentDigest]) -> None:
        self.digests = digests

    def digest(self, vhd_url: str) -> ContentDigest:
        if vhd_url not in self.digests:
            raise ContentLookupError(f"blob {vhd_url} not found")
        return self.digests[vhd_url]


class FakeCustomImages:
    def __init__(self, digests: dict[str, ContentDigest]) -> None:
        self.digests = digests

    def custom_image_digest(self, resource_id: str) -> ContentDigest:
        if resource_id not in self.digests:
            raise ContentLookupError(f"custom image {resource_id} not found")
        return self.digests[resource_id]


def _task(kind: str, image: str, lab: str = "", **fields: Any) -> dict[str, Any]:
    task = {
        "task_id": f"{kind}|{image}|{lab}",
        "kind": kind,
        "image": image,
        "lab": lab,
        "status": "succeeded",
        "attempts": 1,
        "version": "20261204.153000",
        "content_hash": "f" * 64,
        "vhd_url": "",
        "custom_image_name": "",
        "custom_image_id": "",
        "error": None,
        "started_at": "2026-12-04T15:30:00Z",
        "finished_at": "2026-12-04T15:30:12.5Z",
    }
    task.update(fields)
    return task


def _body(tasks: list[dict[str, Any]], status: str = "succeeded") -> dict[str, Any]:
    run = {
        "run_id": "run-1",
        "trigger": "push",
        "commit": "a" * 40,
        "ref": "refs/heads/main",
        "requested_by": "Factory Demo",
        "status": status,
        "created_at": "2026-12-04T15:29:58Z",
        "started_at": "2026-12-04T15:29:59Z",
        "finished_at": "2026-12-04T15:30:30Z",
        "error": None,
        "counts": {},
    }
    return {"run": run, "tasks": tasks}


def _good_run() -> tuple[dict[str, Any], FakeImageStore, FakeCustomImages]:
    tasks = [
        _task("build", "linux/ubuntu", vhd_url=f"{STORE}/linux-ubuntu/1.vhd"),
        _task("build", "windows/base", vhd_url=f"{STORE}/windows-base/1.vhd"),
        _task(
            "copy",
            "linux/ubuntu",
            "team-a",
            custom_image_name="linux-ubuntu-1",
            custom_image_id=UBUNTU_ID,
        ),
        _task(
            "copy",
            "windows/base",
            "team-b",
            custom_image_name="windows-1",
            custom_image_id=WINDOWS_ID,
        ),
    ]
    ubuntu = ContentDigest("1" * 64, 1024)
    windows = ContentDigest("2" * 64, 2048)
    store = FakeImageStore(
        {f"{STORE}/linux-ubuntu/1.vhd": ubuntu, f"{STORE}/windows-base/1.vhd": windows}
    )
    custom_images = FakeCustomImages({UBUNTU_ID: ubuntu, WINDOWS_ID: windows})
    return _body(tasks), store, custom_images


EXPECTED = ExpectedState(
    images=["linux/ubuntu", "windows/base"],
    pairs=[("linux/ubuntu", "team-a"), ("windows/base", "team-b")],
)


def test_build_report_matching_bytes_passes() -> None:
    body, store, custom_images = _good_run()

    report = build_report(body, EXPECTED, store, custom_images)

    assert report.passed, report.reason()
    assert report.reason() is None
    assert [row.image for row in report.images] == ["linux/ubuntu", "windows/base"]
    assert report.images[0].build_seconds == 12.5
    assert report.images[0].vhd_size == 1024
    assert [row.matches_image_store for row in report.labs] == [True, True]


def test_build_report_different_bytes_fail() -> None:
    body, store, custom_images = _good_run()
    custom_images.digests[WINDOWS_ID] = ContentDigest("3" * 64, 2048)

    report = build_report(body, EXPECTED, store, custom_images)

    assert not report.passed
    failed = report.failed_checks
    assert [check.name for check in failed] == ["windows/base in team-b"]
    assert "has sha256 333333" in failed[0].detail
    assert report.labs[1].matches_image_store is False


def test_build_report_missing_copy_fails() -> None:
    body, store, custom_images = _good_run()
    body["tasks"] = [task for task in body["tasks"] if task["lab"] != "team-b"]

    report = build_report(body, EXPECTED, store, custom_images)

    failed = report.failed_checks
    assert [check.name for check in failed] == ["windows/base in team-b"]
    assert failed[0].detail == "the run has no copy task for this pair"


def test_build_report_unsubscribed_copy_fails() -> None:
    body, store, custom_images = _good_run()
    body["tasks"].append(_task("copy", "linux/ubuntu", "team-b", custom_image_id="x"))

    report = build_report(body, EXPECTED, store, custom_images)

    failed = report.failed_checks
    assert [check.name for check in failed] == ["linux/ubuntu in team-b"]
    assert "does not subscribe" in failed[0].detail


def test_build_report_failed_run_fails() -> None:
    body, store, custom_images = _good_run()
    body["run"].update(status="partially_succeeded", error="one copy failed")
    body["tasks"][3].update(status="failed", error="copy failed 3 times")

    report = build_report(body, EXPECTED, store, custom_images)

    names = [check.name for check in report.failed_checks]
    assert names == ["run succeeded", "windows/base in team-b"]
    assert "partially_succeeded: one copy failed" in report.failed_checks[0].detail
    assert "copy failed 3 times" in report.failed_checks[1].detail


def test_build_report_unreadable_vhd_fails() -> None:
    body, store, custom_images = _good_run()
    del store.digests[f"{STORE}/linux-ubuntu/1.vhd"]

    report = build_report(body, EXPECTED, store, custom_images)

    names = [check.name for check in report.failed_checks]
    assert names == ["build linux/ubuntu", "linux/ubuntu in team-a"]
    assert "not found" in report.failed_checks[0].detail


def test_build_report_reused_version_reads_copy_vhd() -> None:
    body, store, custom_images = _good_run()
    body["tasks"] = [task for task in body["tasks"] if task["image"] != "linux/ubuntu"]
    body["tasks"].append(
        _task(
            "copy",
            "linux/ubuntu",
            "team-a",
            custom_image_name="linux-ubuntu-1",
            custom_image_id=UBUNTU_ID,
            vhd_url=f"{STORE}/linux-ubuntu/1.vhd",
        )
    )
    expected = ExpectedState(images=["windows/base"], pairs=EXPECTED.pairs)

    report = build_report(body, expected, store, custom_images)

    assert report.passed, report.reason()


def test_render_report_tables() -> None:
    body, store, custom_images = _good_run()
    report = build_report(body, EXPECTED, store, custom_images)

    text = render_report(report)

    assert "Run run-1 succeeded in 32.0 s" in text
    assert "IMAGE          VERSION           BUILD    STATUS" in text
    assert "linux/ubuntu   20261204.153000   12.5 s   succeeded" in text
    assert "team-a   linux/ubuntu   linux-ubuntu-1" in text
    assert "identical" in text
    assert "Checks: 5 passed, 0 failed" in text


def test_report_json_shape() -> None:
    body, store, custom_images = _good_run()

    data = build_report(body, EXPECTED, store, custom_images).to_json()

    assert data["passed"] is True
    assert data["run"]["run_id"] == "run-1"
    assert data["images"][0]["vhd_sha256"] == "1" * 64
    assert data["labs"][0]["custom_image_name"] == "linux-ubuntu-1"
    assert len(data["checks"]) == 5


def test_split_blob_url_nested_name() -> None:
    container, blob = split_blob_url(f"{STORE}/linux-ubuntu/2026%2012.vhd")

    assert container == "images"
    assert blob == "linux-ubuntu/2026 12.vhd"


def test_summarize_tasks_by_kind() -> None:
    tasks = [
        _task("copy", "a", "lab", status="pending"),
        _task("build", "a", status="running"),
        _task("build", "b"),
        _task("copy", "b", "lab"),
    ]

    summary = summarize_tasks(tasks)

    assert summary == "build 1 succeeded, 1 running   copy 1 succeeded, 1 pending"


def test_progress_display_plain_prints_changes() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream)

    display.update(0.5, "planning", [])
    display.update(1.0, "planning", [])
    display.update(1.5, "running", [_task("build", "a", status="running")])
    display.finish()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("run planning   no tasks yet")
    assert lines[1].endswith("run running    build 1 running")
