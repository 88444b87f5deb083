"""The status page in headless Chromium, after a run through the dev host.

Chromium (the Debian package) loads the page with the function key, prints
the DOM it rendered and takes a screenshot. Set FACTORY_STATUS_SCREENSHOT to
a path to keep the screenshot there, as docs/status-page.png was made.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from scripts.localstack import LocalStack
from tests.e2e.test_push_pipeline import tasks_of, wait_for_run

pytestmark = pytest.mark.e2e

SCREENSHOT_VARIABLE = "FACTORY_STATUS_SCREENSHOT"
WINDOW_WIDTH, WINDOW_HEIGHT = 1280, 1400
CHROMIUM_TIMEOUT_SECONDS = 90
IMAGE = "linux/ubuntu-docker"
# Chromium options for a one-shot headless load that turn off the background
# services a first start would contact: sync, component updates, safe
# browsing lists, crash reports and proxy lookup.
CHROMIUM_OPTIONS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-proxy-server",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--hide-scrollbars",
]


@dataclass
class Table:
    """One HTML table: its id and class, and the text of each cell by row."""

    table_id: str
    css_class: str
    rows: list[list[str]] = field(default_factory=list)


class PageParser(HTMLParser):
    """Parser of the page's title, its tables and the ids of open <details>."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.tables: list[Table] = []
        self.open_details: list[str] = []
        self._in_title = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "table":
            table_id = attributes.get("id") or ""
            self.tables.append(Table(table_id, attributes.get("class") or ""))
        elif tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "details" and "open" in attributes:
            self.open_details.append(attributes.get("id") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1].rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._cell is not None:
            self._cell.append(data)

    def table(self, table_id: str) -> Table:
        return next(table for table in self.tables if table.table_id == table_id)


@dataclass
class RenderedPage:
    run: dict[str, Any]
    page: PageParser
    screenshot: Path


def chromium_executable() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed; run 'apt-get install chromium'")
    return path


def run_chromium(url: str, profile: Path, *options: str) -> str:
    """Load ``url`` in a new headless Chromium and return what it printed."""
    argv = [
        chromium_executable(),
        *CHROMIUM_OPTIONS,
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW_WIDTH},{WINDOW_HEIGHT}",
        *options,
        url,
    ]
    completed = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=CHROMIUM_TIMEOUT_SECONDS,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG file"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture(scope="module")
def rendered(
    stack: LocalStack, tmp_path_factory: pytest.TempPathFactory
) -> RenderedPage:
    """Force a build of one image, then load the status page in Chromium."""
    response = stack.api().post("/api/runs", json={"images": [IMAGE], "force": True})
    assert response.status_code == 202, response.text
    run = wait_for_run(stack, response.json()["run_id"])

    directory = tmp_path_factory.mktemp("chromium")
    url = f"{stack.base_url}/api/status?code={stack.function_key}"
    page = PageParser()
    page.feed(run_chromium(url, directory / "profile-dom", "--dump-dom"))
    screenshot = directory / "status-page.png"
    run_chromium(url, directory / "profile-shot", f"--screenshot={screenshot}")

    keep = os.environ.get(SCREENSHOT_VARIABLE)
    if keep:
        shutil.copyfile(screenshot, keep)
    return RenderedPage(run, page, screenshot)


def test_status_page_needs_function_key(stack: LocalStack) -> None:
    response = requests.get(f"{stack.base_url}/api/status", timeout=10)
    assert response.status_code == 401


def test_status_page_title(rendered: RenderedPage) -> None:
    assert rendered.page.title == "Image factory status"


def test_status_page_lists_run(rendered: RenderedPage) -> None:
    run = rendered.run["run"]
    assert run["status"] == "succeeded", run["error"]
    rows = rendered.page.table("runs").rows
    header, newest = rows[0], rows[1]
    assert header[:4] == ["Run", "Trigger", "Commit", "Status"]
    assert newest[0] == run["run_id"]
    assert newest[1] == "manual"
    assert newest[3] == "succeeded"


def test_status_page_shows_run_tasks(rendered: RenderedPage) -> None:
    run_id = rendered.run["run"]["run_id"]
    table = rendered.page.table(f"tasks-{run_id}")
    assert table.css_class == "tasks"
    assert table.rows[0][:4] == ["Task", "Lab", "Version", "Status"]
    tasks = [row[:4] for row in table.rows[1:]]
    build = tasks_of(rendered.run, "build")[0]
    assert [f"build {IMAGE}", "-", build["version"], "succeeded"] in tasks
    copied_labs = {row[1] for row in tasks if row[0] == f"copy {IMAGE}"}
    expected_labs = {task["lab"] for task in tasks_of(rendered.run, "copy")}
    assert copied_labs == expected_labs
    assert {row[3] for row in tasks} == {"succeeded"}


def test_status_page_opens_newest_run(rendered: RenderedPage) -> None:
    run_id = rendered.run["run"]["run_id"]
    assert rendered.page.open_details == [f"run-{run_id}"]


def test_status_page_matrix_has_new_version(rendered: RenderedPage) -> None:
    rows = rendered.page.table("matrix").rows
    header = rows[0]
    assert header[:2] == ["Image", "Newest version"]
    by_image = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows[1:]}
    version = tasks_of(rendered.run, "build")[0]["version"]
    assert by_image[IMAGE]["Newest version"] == version
    copies = tasks_of(rendered.run, "copy")
    assert len(copies) == 3
    for task in copies:
        lab = next(name for name in header[2:] if task["lab"] in name)
        assert by_image[IMAGE][lab] == version


def test_status_page_screenshot(rendered: RenderedPage) -> None:
    assert png_size(rendered.screenshot) == (WINDOW_WIDTH, WINDOW_HEIGHT)
