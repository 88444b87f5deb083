"""The status page: recent runs with their tasks, and which lab holds which version.

Rendered on the server as one self-contained HTML document (no scripts, no
external assets), so it works behind a function key in any browser. Every
value from state is escaped.
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from shared.context import Factory
from shared.models import Run, Task

RECENT_RUNS = 20
TASKS_SHOWN_PER_RUN = 200

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left;font-size:.9rem}
th{background:#f6f8fa}
.succeeded{color:#1a7f37}.failed,.cancelled,.skipped{color:#cf222e}
.partially_succeeded{color:#9a6700}.running,.planning,.queued,.pending{color:#0969da}
details{margin:.3rem 0}code{font-size:.85rem}
"""


def render_status_page(factory: Factory) -> str:
    runs = factory.store.list_runs(RECENT_RUNS)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Image factory status</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Image factory status</h1>",
        _matrix(factory),
        "<h2>Recent runs</h2>",
        _runs_table(runs),
    ]
    for run in runs[:5]:
        parts.append(_run_details(run, factory.store.list_tasks(run.run_id)))
    parts.append("</body></html>")
    return "".join(parts)


def _status(value: str) -> str:
    return f"<span class='{escape(value)}'>{escape(value.replace('_', ' '))}</span>"


def _runs_table(runs: list[Run]) -> str:
    if not runs:
        return "<p>No runs yet.</p>"
    rows = [
        "<table id='runs'><tr><th>Run</th><th>Trigger</th><th>Commit</th><th>Status</th>"
        "<th>Tasks done</th><th>Failed</th><th>Started</th><th>Error</th></tr>"
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
            f"<td>{escape(run.created_at.strftime('%Y-%m-%d %H:%M:%S'))} UTC</td>"
            f"<td>{escape(run.error)}</td>"
            "</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _run_details(run: Run, tasks: list[Task]) -> str:
    rows = [
        f"<details><summary>Run <code>{escape(run.run_id)}</code>: "
        f"{_status(str(run.status))}, {len(tasks)} tasks</summary>",
        "<table class='tasks'><tr><th>Task</th><th>Lab</th><th>Version</th>"
        "<th>Status</th><th>Phase</th><th>Error</th></tr>",
    ]
    for task in sorted(tasks, key=lambda t: (t.kind, t.task_id))[:TASKS_SHOWN_PER_RUN]:
        rows.append(
            "<tr>"
            f"<td>{escape(task.kind)} {escape(task.image)}</td>"
            f"<td>{escape(task.lab or '-')}</td>"
            f"<td>{escape(task.version)}</td>"
            f"<td>{_status(str(task.status))}</td>"
            f"<td>{escape(task.phase)}</td>"
            f"<td>{escape(task.error)}</td>"
            "</tr>"
        )
    rows.append("</table></details>")
    return "".join(rows)


def _matrix(factory: Factory) -> str:
    """Return a table of images by team lab with the newest version each lab holds."""
    held: dict[str, dict[str, str]] = defaultdict(dict)
    labs: set[str] = set()
    for row in factory.store.list_lab_images():
        lab = _lab_name(row)
        labs.add(lab)
        image, version = str(row["image"]), str(row["version"])
        held[image][lab] = max(held[image].get(lab, ""), version)
    if not held:
        return "<h2>Images in team labs</h2><p>No team lab holds an image yet.</p>"
    ordered_labs = sorted(labs)
    rows = [
        "<h2>Images in team labs</h2><table id='matrix'><tr><th>Image</th>",
        *(f"<th>{escape(lab)}</th>" for lab in ordered_labs),
        "</tr>",
    ]
    for image in sorted(held):
        cells = "".join(
            f"<td>{escape(held[image].get(lab, '-'))}</td>" for lab in ordered_labs
        )
        rows.append(f"<tr><td>{escape(image)}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _lab_name(row: dict[str, Any]) -> str:
    return str(row.get("lab_id", "")).rstrip("/").rsplit("/", 1)[-1]
