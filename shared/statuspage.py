"""The status page: recent runs with their tasks, and the versions in each team lab.

Rendered on the server as one self-contained HTML document (no scripts, no
external assets), so it works behind a function key in any browser. Every
value from state is escaped, and errors are redacted like log lines, because
an error from Azure can quote a SAS URL.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from html import escape
from typing import Any

from shared.context import Factory
from shared.logcontext import redact
from shared.models import ImageVersion, Run, Task

RECENT_RUNS = 20
RUNS_WITH_DETAILS = 5
TASKS_SHOWN_PER_RUN = 200
REFRESH_SECONDS = 60

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5rem 2rem;color:#1f2328;background:#fff}
header{display:flex;align-items:baseline;gap:1rem;flex-wrap:wrap}
h1{font-size:1.4rem;margin:0}h2{font-size:1.1rem;margin:1.8rem 0 .4rem}
.muted{color:#59636e;font-size:.85rem}
.summary{display:flex;gap:.6rem;margin:1rem 0 0;flex-wrap:wrap}
.count{border:1px solid #d1d9e0;border-radius:6px;padding:.35rem .8rem;font-size:.9rem}
.count b{font-size:1.1rem;margin-right:.3rem}
table{border-collapse:collapse;margin:.4rem 0}
th,td{border:1px solid #d1d9e0;padding:.3rem .6rem;text-align:left;font-size:.88rem;
vertical-align:top}
th{background:#f6f8fa}
td.error{max-width:32rem;color:#8c1b13;font-size:.82rem}
code{font-size:.82rem}td{white-space:nowrap}td.error{white-space:normal}
.badge{display:inline-block;border-radius:1rem;padding:0 .55rem;font-size:.8rem;
font-weight:600;white-space:nowrap}
.succeeded{background:#dafbe1;color:#116329}
.failed,.cancelled{background:#ffebe9;color:#a40e26}
.partially_succeeded,.skipped{background:#fff8c5;color:#7d4e00}
.running,.planning,.queued,.pending{background:#ddf4ff;color:#0550ae}
td.current{background:#f0fff4}td.stale{background:#fff8c5}td.none{color:#8c959f}
details{margin:.5rem 0}summary{cursor:pointer;font-size:.95rem}
"""


def render_status_page(factory: Factory) -> str:
    """Return the status page as an HTML document."""
    runs = factory.store.list_runs(RECENT_RUNS)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='refresh' content='{REFRESH_SECONDS}'>",
        "<title>Image factory status</title>",
        f"<style>{_STYLE}</style></head><body>",
        _header(factory.now(), runs),
        _matrix(factory),
        f"<h2>Recent runs</h2><p class='muted'>The newest {RECENT_RUNS} runs; "
        f"the newest {RUNS_WITH_DETAILS} with their tasks below.</p>",
        _runs_table(runs),
    ]
    for index, run in enumerate(runs[:RUNS_WITH_DETAILS]):
        tasks = factory.store.list_tasks(run.run_id)
        parts.append(_run_details(run, tasks, is_open=index == 0))
    parts.append("</body></html>")
    return "".join(parts)


def _header(now: datetime, runs: list[Run]) -> str:
    counts = Counter(str(run.status) for run in runs)
    cards = "".join(
        f"<span class='count'><b>{number}</b>{escape(status.replace('_', ' '))}</span>"
        for status, number in sorted(counts.items())
    )
    return (
        "<header><h1>Image factory status</h1>"
        f"<span class='muted'>generated {_time(now)}, "
        f"refreshes every {REFRESH_SECONDS} s</span></header>"
        f"<div class='summary' id='summary'>{cards}</div>"
    )


def _status(value: str) -> str:
    label = escape(value.replace("_", " "))
    return f"<span class='badge {escape(value)}'>{label}</span>"


def _time(value: datetime | None) -> str:
    return "-" if value is None else escape(value.strftime("%Y-%m-%d %H:%M:%S UTC"))


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return "-"
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _error(text: str) -> str:
    return f"<td class='error'>{escape(redact(text))}</td>"


def _runs_table(runs: list[Run]) -> str:
    if not runs:
        return "<p>No runs yet.</p>"
    rows = [
        "<table id='runs'><tr><th>Run</th><th>Trigger</th><th>Commit</th>"
        "<th>Status</th><th>Tasks done</th><th>Failed</th><th>Started</th>"
        "<th>Duration</th><th>Error</th></tr>"
    ]
    for run in runs:
        rows.append(
            "<tr>"
            f"<td><code>{escape(run.run_id)}</code></td>"
            f"<td>{escape(run.trigger)}</td>"
            f"<td><code>{escape(run.commit[:12])}</code></td>"
            f"<td>{_status(str(run.status))}</td>"
            f"<td>{run.finished} / {run.total}</td>"
            f"<td>{run.failed}</td>"
            f"<td>{_time(run.created_at)}</td>"
            f"<td>{_duration(run.created_at, run.finished_at)}</td>"
            f"{_error(run.error)}"
            "</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _run_details(run: Run, tasks: list[Task], *, is_open: bool) -> str:
    run_id = escape(run.run_id)
    rows = [
        f"<details id='run-{run_id}'{' open' if is_open else ''}>"
        f"<summary>Run <code>{run_id}</code> {_status(str(run.status))} "
        f"{len(tasks)} tasks</summary>",
    ]
    if not tasks:
        rows.append("<p class='muted'>No tasks: nothing changed.</p></details>")
        return "".join(rows)
    rows.append(
        f"<table class='tasks' id='tasks-{run_id}'><tr><th>Task</th><th>Lab</th>"
        "<th>Version</th><th>Status</th><th>Phase</th><th>Attempts</th>"
        "<th>Duration</th><th>Error</th></tr>"
    )
    for task in sorted(tasks, key=lambda t: (t.kind, t.task_id))[:TASKS_SHOWN_PER_RUN]:
        rows.append(
            "<tr>"
            f"<td>{escape(task.kind)} {escape(task.image)}</td>"
            f"<td>{escape(task.lab or '-')}</td>"
            f"<td>{escape(task.version)}</td>"
            f"<td>{_status(str(task.status))}</td>"
            f"<td>{escape(task.phase)}</td>"
            f"<td>{task.attempts}</td>"
            f"<td>{_duration(task.started_at, task.finished_at)}</td>"
            f"{_error(task.error)}"
            "</tr>"
        )
    rows.append("</table></details>")
    return "".join(rows)


def _matrix(factory: Factory) -> str:
    """Return a table of images by team lab with the newest version in each lab.

    A cell is marked current when the lab has the image's newest available
    version and stale when it has only an older one.
    """
    in_lab: dict[str, dict[str, str]] = defaultdict(dict)
    labs: set[str] = set()
    for row in factory.store.list_lab_images():
        lab = _lab_name(row)
        labs.add(lab)
        image, version = str(row["image"]), str(row["version"])
        in_lab[image][lab] = max(in_lab[image].get(lab, ""), version)
    if not in_lab:
        return "<h2>Images in team labs</h2><p>No team lab holds an image yet.</p>"

    newest = _newest_versions(factory.store.list_versions())
    ordered_labs = sorted(labs)
    rows = [
        "<h2>Images in team labs</h2><table id='matrix'><tr><th>Image</th>"
        "<th>Newest version</th>",
        *(f"<th>{escape(lab)}</th>" for lab in ordered_labs),
        "</tr>",
    ]
    for image in sorted(in_lab):
        latest = newest.get(image, "")
        cells = "".join(
            _matrix_cell(in_lab[image].get(lab), latest) for lab in ordered_labs
        )
        rows.append(
            f"<tr><td>{escape(image)}</td><td>{escape(latest or '-')}</td>{cells}</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _matrix_cell(version: str | None, newest: str) -> str:
    if not version:
        return "<td class='none'>-</td>"
    state = "current" if version >= newest else "stale"
    return f"<td class='{state}'>{escape(version)}</td>"


def _newest_versions(versions: list[ImageVersion]) -> dict[str, str]:
    newest: dict[str, str] = {}
    for version in versions:
        if version.state == "available":
            newest[version.image] = max(newest.get(version.image, ""), version.version)
    return newest


def _lab_name(row: dict[str, Any]) -> str:
    return str(row.get("lab_id", "")).rstrip("/").rsplit("/", 1)[-1]
