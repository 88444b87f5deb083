"""ARM requests of a run, from the emulator's request log, per image build and per copy.

A build's requests are those on its VM and its OS disk, and the polls of the
operations they started. A copy's requests are those on its custom image,
plus its share of its lab's ``generateUploadUri`` calls (the blob name is
in the body, which the log does not keep). What is left belongs to the run
as a whole: tokens, planning's artifact list, lab reads and the retention
phase's listings.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from scripts.bench.critical_path import (
    CUSTOM_IMAGE_CREATE,
    operation_spans,
    started_operation_ids,
)
from shared.models import Task, TaskKind

UPLOAD_URI_ACTION = "/generateuploaduri"


def arm_request_counts(
    tasks: Iterable[Task], log: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return ARM requests per build, per copy and for the run as a whole."""
    tasks = list(tasks)
    entries = [e for e in log if str(e["path"]).startswith("/subscriptions/")]
    claimed: set[int] = set()

    builds = [t for t in tasks if t.kind == TaskKind.BUILD]
    per_build = [len(_claim(entries, claimed, _build_markers(t))) for t in builds]
    copies = [t for t in tasks if t.kind == TaskKind.COPY]
    per_copy = [len(_claim(entries, claimed, [_custom_image_path(t)])) for t in copies]

    uploads = {
        i
        for i, e in enumerate(entries)
        if str(e["path"]).lower().endswith(UPLOAD_URI_ACTION)
    }
    upload_per_copy = len(uploads) / max(len(copies), 1)
    claimed |= uploads
    rest = [e for i, e in enumerate(entries) if i not in claimed]

    return {
        "total": len(entries),
        "tokens": len(log) - len(entries),
        "per_build": _summary(per_build),
        "per_copy": _summary([n + upload_per_copy for n in per_copy]),
        "upload_uri_calls_per_copy": round(upload_per_copy, 2),
        "per_run": len(rest),
        "per_run_by_kind": dict(Counter(_kind(e) for e in rest).most_common(10)),
        "throttled": sum(1 for e in entries if e.get("status") == 429),
    }


def copy_read_polls(
    tasks: Iterable[Task],
    log: list[dict[str, Any]],
    operations: list[dict[str, Any]],
    retry_after_seconds: int,
) -> dict[str, Any]:
    """Compare each copy's reads of its custom image with its duration and the Retry-After.

    A copy stays within the target when it reads no more than once per
    Retry-After interval of its custom image's creation, plus the read that
    returns it finished.
    """
    spans = operation_spans(operations, started_operation_ids(log))
    created = {s.target: s for s in spans if s.kind == CUSTOM_IMAGE_CREATE}
    rows = []
    for task in tasks:
        if task.kind != TaskKind.COPY or not task.custom_image_name:
            continue
        path = _custom_image_path(task)
        span = next((s for target, s in created.items() if target.endswith(path)), None)
        if span is None:
            continue
        read_count = sum(
            1
            for e in log
            if e["method"] == "GET" and str(e["path"]).lower().endswith(path)
        )
        allowed = math.ceil(span.seconds / retry_after_seconds) + 1
        rows.append((span.seconds, read_count, allowed))
    if not rows:
        return {"copies": 0}
    durations = [r[0] for r in rows]
    reads = [r[1] for r in rows]
    return {
        "copies": len(rows),
        "retry_after_seconds": retry_after_seconds,
        "reads": _summary(reads),
        "duration_seconds": _summary(durations),
        "within_target": sum(1 for _, n, allowed in rows if n <= allowed),
        "max_excess": max(n - allowed for _, n, allowed in rows),
        "reads_per_second": round(_slope(durations, reads), 3),
        "target_reads_per_second": round(1 / retry_after_seconds, 3),
    }


def _claim(
    entries: list[dict[str, Any]], claimed: set[int], markers: list[str]
) -> list[int]:
    """Mark and return the entries whose path contains a marker, and the polls of their operations."""
    markers = [m for m in markers if m]
    own = [
        i
        for i, e in enumerate(entries)
        if i not in claimed and any(m in str(e["path"]).lower() for m in markers)
    ]
    started = {entries[i].get("operation_id") for i in own} - {None}
    polls = [
        i
        for i, e in enumerate(entries)
        if i not in claimed and i not in own and e.get("operation_id") in started
    ]
    claimed.update(own, polls)
    return own + polls


def _build_markers(task: Task) -> list[str]:
    return [f"/virtualmachines/{task.vm_name.lower()}", task.os_disk_id.lower()]


def _custom_image_path(task: Task) -> str:
    lab = task.lab_id.rsplit("/", 1)[-1].lower()
    return f"/labs/{lab}/customimages/{task.custom_image_name.lower()}"


def _kind(entry: dict[str, Any]) -> str:
    """Name a request by method and resource type, e.g. ``GET customimages``."""
    segments = str(entry["path"]).lower().strip("/").split("/")
    # ARM paths alternate type and name: an odd count ends in a type (a list
    # or an action), an even count in a resource's name.
    kind = segments[-1] if len(segments) % 2 else segments[-2]
    return f"{entry['method']} {kind}"


def _summary(values: list[float] | list[int]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "max": 0.0}
    return {
        "mean": round(statistics.fmean(values), 2),
        "max": round(float(max(values)), 2),
    }


def _slope(xs: list[float], ys: list[int]) -> float:
    """Least-squares slope of ys over xs; 0 when the xs do not vary."""
    if len(xs) < 2:
        return 0.0
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return (
        sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    )
