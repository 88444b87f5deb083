"""The factory's HTTP API, independent of the Functions runtime.

Each function returns ``(status, json body)``; ``functions/http_api.py``
turns that into an ``HttpResponse``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shared.context import Factory
from shared.errors import RunNotFoundError
from shared.models import Run, Trigger
from shared.operations import OperationRejected, cancel_run, retry_run
from shared.pipeline.runs import new_run_id, start_run

MAX_REQUEST_BODY_BYTES = 64 * 1024
# Image names are at most 64 characters; a pattern a little longer covers
# wildcards. The run row stores the lists, within Table Storage's 32K limit.
MAX_PATTERN_LENGTH = 128
MAX_PATTERNS = 100
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9-]{1,64}")
MAX_LIST_LIMIT = 500

Response = tuple[int, dict[str, Any]]


def bad_request(message: str) -> Response:
    return 400, {"error": {"code": "InvalidRequest", "message": message}}


def create_run(factory: Factory, body: bytes, requested_by: str) -> Response:
    """Start a manual run of chosen images and labs (all when omitted)."""
    if len(body) > MAX_REQUEST_BODY_BYTES:
        return 413, {
            "error": {"code": "RequestTooLarge", "message": "body is over 64 KiB"}
        }
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError as exc:
        return bad_request(f"body is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return bad_request('body must be a JSON object such as {"images": ["linux/*"]}')
    unknown = sorted(set(data) - {"images", "labs", "ref", "force"})
    if unknown:
        return bad_request(f"unknown fields {unknown}: use images, labs, ref and force")
    lists: dict[str, list[str] | None] = {}
    for name in ("images", "labs"):
        value = data.get(name)
        if value is not None and (
            not isinstance(value, list)
            or not all(isinstance(v, str) and v for v in value)
        ):
            return bad_request(
                f"{name} must be a list of names or patterns, got {value!r}"
            )
        problem = _pattern_problem(name, value or [])
        if problem:
            return bad_request(problem)
        lists[name] = value or None
    ref = data.get("ref", f"refs/heads/{factory.settings.config_branch}")
    if not isinstance(ref, str) or not ref:
        return bad_request(f"ref must be a branch ref or commit id, got {ref!r}")
    force = data.get("force", False)
    if not isinstance(force, bool):
        return bad_request(f"force must be true or false, got {force!r}")

    commit = ref if len(ref) == 40 and all(c in "0123456789abcdef" for c in ref) else ""
    run = Run(
        run_id=new_run_id(),
        trigger=Trigger.MANUAL,
        ref="" if commit else ref,
        commit=commit,
        requested_by=requested_by,
        requested_images=lists["images"],
        requested_labs=lists["labs"],
        force=force,
    )
    start_run(factory, run)
    return 202, {"run_id": run.run_id, "status": str(run.status)}


def _pattern_problem(field: str, patterns: list[str]) -> str:
    """Return why a list of names or patterns is invalid, or ''."""
    if len(patterns) > MAX_PATTERNS:
        return f"{field} has {len(patterns)} entries: give at most {MAX_PATTERNS}"
    for pattern in patterns:
        shown = pattern if len(pattern) <= 80 else pattern[:80] + "..."
        if len(pattern) > MAX_PATTERN_LENGTH:
            return (
                f"{field} entry {shown!r} has {len(pattern)} characters: "
                f"use at most {MAX_PATTERN_LENGTH}"
            )
        if ".." in pattern.split("/") or pattern.startswith("/") or "\\" in pattern:
            return (
                f"{field} entry {shown!r} is invalid: use names or patterns "
                "below images/, without '..'"
            )
    return ""


def list_runs(factory: Factory, limit_text: str | None) -> Response:
    try:
        limit = int(limit_text) if limit_text else 50
    except ValueError:
        return bad_request(f"limit must be a whole number, got {limit_text!r}")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        return bad_request(f"limit must be between 1 and {MAX_LIST_LIMIT}, got {limit}")
    return 200, {"runs": [run.to_api() for run in factory.store.list_runs(limit)]}


def show_run(factory: Factory, run_id: str) -> Response:
    if not RUN_ID_PATTERN.fullmatch(run_id):
        return 404, {
            "error": {
                "code": "RunNotFound",
                "message": "no run has that id: run ids look like "
                "20261204-153000-9f2c1a (GET /api/runs lists them)",
            }
        }
    try:
        run = factory.store.get_run(run_id)
    except RunNotFoundError as exc:
        return 404, {"error": {"code": "RunNotFound", "message": str(exc)}}
    tasks = sorted(factory.store.list_tasks(run_id), key=lambda t: (t.kind, t.task_id))
    return 200, {"run": run.to_api(), "tasks": [t.to_api() for t in tasks]}


def list_images(factory: Factory) -> Response:
    """Every recorded version, newest first per image, with the labs that hold it."""
    holders: dict[tuple[str, str], list[str]] = {}
    for row in factory.store.list_lab_images():
        key = (str(row["image"]), str(row["version"]))
        holders.setdefault(key, []).append(str(row["lab_id"]))
    versions = sorted(
        factory.store.list_versions(), key=lambda v: (v.image, v.version), reverse=True
    )
    images: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        entry = version.to_api()
        entry["labs"] = sorted(holders.get((version.image, version.version), []))
        images.setdefault(version.image, []).append(entry)
    return 200, {"images": images}


def cancel(factory: Factory, run_id: str, requested_by: str) -> Response:
    """Cancel a run that has not ended; its tasks clean up what they created."""
    try:
        run = cancel_run(factory, run_id, requested_by)
    except RunNotFoundError as exc:
        return 404, {"error": {"code": "RunNotFound", "message": str(exc)}}
    except OperationRejected as exc:
        return 409, {"error": {"code": "RunEnded", "message": str(exc)}}
    return 202, {"run_id": run.run_id, "status": str(run.status)}


def retry(factory: Factory, run_id: str, requested_by: str) -> Response:
    """Retry only the failed, skipped and cancelled tasks of an ended run."""
    try:
        run, tasks = retry_run(factory, run_id, requested_by)
    except RunNotFoundError as exc:
        return 404, {"error": {"code": "RunNotFound", "message": str(exc)}}
    except OperationRejected as exc:
        return 409, {"error": {"code": "NothingToRetry", "message": str(exc)}}
    return 202, {
        "run_id": run.run_id,
        "status": str(run.status),
        "retried": sorted(t.task_id for t in tasks),
    }
