"""Render the demo report as text tables for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from scripts.demo.report import DemoReport, LabRow, seconds_between


def render_report(report: DemoReport) -> str:
    """Return the report as a run summary, two tables and the check results."""
    sections = [
        _run_summary(report),
        _images_table(report),
        _labs_table(report),
        _checks(report),
    ]
    return "\n\n".join(section for section in sections if section)


def _run_summary(report: DemoReport) -> str:
    run = report.run
    duration = seconds_between(run.get("created_at"), run.get("finished_at"))
    took = f" in {duration:.1f} s" if duration is not None else ""
    lines = [f"Run {run.get('run_id')} {run.get('status')}{took}"]
    commit = str(run.get("commit") or "")[:12] or "unknown"
    lines.append(
        f"  trigger {run.get('trigger')} by {run.get('requested_by') or 'unknown'}, "
        f"commit {commit} on {run.get('ref')}"
    )
    if run.get("error"):
        lines.append(f"  error: {run['error']}")
    return "\n".join(lines)


def _images_table(report: DemoReport) -> str:
    rows = [
        [
            row.image,
            row.version or "-",
            f"{row.build_seconds:.1f} s" if row.build_seconds is not None else "-",
            row.status,
        ]
        for row in report.images
    ]
    if not rows:
        return "Images\n  (the run built no image)"
    return "Images\n" + _table(["IMAGE", "VERSION", "BUILD", "STATUS"], rows)


def _labs_table(report: DemoReport) -> str:
    rows = [
        [
            row.lab,
            row.image,
            row.custom_image_name or "-",
            row.status,
            _bytes_column(row),
        ]
        for row in report.labs
    ]
    if not rows:
        return "Team labs\n  (the run copied no image)"
    headers = ["LAB", "IMAGE", "CUSTOM IMAGE", "STATUS", "BYTES VS IMAGE STORE"]
    return "Team labs\n" + _table(headers, rows)


def _bytes_column(row: LabRow) -> str:
    if row.matches_image_store is None:
        return "not checked"
    return "identical" if row.matches_image_store else "DIFFERENT"


def _checks(report: DemoReport) -> str:
    failed = report.failed_checks
    passed = len(report.checks) - len(failed)
    lines = [f"Checks: {passed} passed, {len(failed)} failed"]
    lines += [f"  FAILED {check.name}: {check.detail}" for check in failed]
    return "\n".join(lines)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [
            max(width, len(cell)) for width, cell in zip(widths, row, strict=True)
        ]

    def line(cells: Sequence[str]) -> str:
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        return "  " + "   ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])
