"""The benchmark's analysis: critical path, stage-by-stage model, request attribution, report."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scripts.bench.arm_requests import arm_request_counts, copy_read_polls
from scripts.bench.breakdown import critical_image_steps
from scripts.bench.critical_path import (
    ImageChain,
    critical_path,
    image_chains,
    operation_spans,
    started_operation_ids,
)
from scripts.bench.legacy import legacy_schedule
from scripts.bench.report import update_section
from scripts.bench.storage import is_app_request, storage_use
from shared.models import Run, Task

LAB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/dtl-team-web"
LAB_KEY = LAB.lower()
DISK = "/subscriptions/s/resourcegroups/rg-vm/providers/microsoft.compute/disks/ifbdisk"


def _iso(seconds: float) -> str:
    return f"2026-12-04T10:{int(seconds) // 60:02d}:{seconds % 60:09.6f}+00:00"


def _operation(
    op_id: str, kind: str, target: str, start: float, end: float
) -> dict[str, Any]:
    return {
        "id": op_id,
        "kind": kind,
        "target_key": target,
        "started": _iso(start),
        "ended": _iso(end),
        "status": "Succeeded",
    }


def _entry(
    method: str, path: str, op_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "status": 201,
        "operation_id": op_id,
    } | extra


def _tasks() -> list[Task]:
    build = Task(
        run_id="r",
        task_id="build|linux/a",
        kind="build",
        image="linux/a",
        version="v",
        content_hash="h",
        os_type="Linux",
        vm_name="ifbvm",
        os_disk_id=DISK,
    )
    copy = Task(
        run_id="r",
        task_id="copy|linux/a|web",
        kind="copy",
        image="linux/a",
        version="v",
        content_hash="h",
        os_type="Linux",
        lab="web",
        lab_id=LAB,
        custom_image_name="linux-a-0123",
    )
    return [build, copy]


def _log_and_operations() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    vm_path = f"{LAB}/virtualmachines/ifbvm"
    image_path = f"{LAB}/customimages/linux-a-0123"
    log = [
        _entry("PUT", vm_path, "op-vm"),
        _entry("GET", vm_path),
        _entry("POST", f"{DISK}/beginGetAccess", "op-disk", status=202),
        _entry(
            "GET",
            "/subscriptions/s/providers/Microsoft.Compute/locations/w/operations/op-disk",
            "op-disk",
        ),
        _entry("POST", f"{LAB}/generateUploadUri", status=200),
        _entry("PUT", image_path, "op-image"),
        _entry("GET", image_path, status=200),
        _entry("GET", image_path, status=200),
        _entry("GET", f"{LAB}/customimages", status=200),
    ]
    operations = [
        _operation("op-vm", "vm_create", f"{LAB_KEY}/virtualmachines/ifbvm", 0, 100),
        _operation("op-disk", "grant_access", DISK, 110, 112),
        _operation(
            "op-image",
            "custom_image_create",
            f"{LAB_KEY}/customimages/linux-a-0123",
            120,
            150,
        ),
        _operation(
            "op-other", "custom_image_create", f"{LAB_KEY}/customimages/other", 0, 999
        ),
    ]
    return log, operations


def test_critical_path_chains_operations() -> None:
    log, operations = _log_and_operations()
    spans = operation_spans(operations, started_operation_ids(log))
    chains = image_chains(_tasks(), spans)
    assert len(chains) == 1
    assert chains[0].build == 100
    assert chains[0].capture == 2
    assert chains[0].copies == {"web": 30}
    assert chains[0].seconds == 132


def test_critical_path_ignores_operations_not_started() -> None:
    log, _ = _log_and_operations()
    started = started_operation_ids(log)
    assert "op-other" not in started
    assert "op-vm" in started


def test_critical_path_picks_longest_chain() -> None:
    short = ImageChain("a", 10, 1, {"x": 5})
    long = ImageChain("b", 8, 1, {"x": 5, "y": 20})
    assert critical_path([short, long]) == long
    assert critical_path([]) is None


def test_legacy_schedule_waits_for_slowest_each_stage() -> None:
    chains = [
        ImageChain("a", 10.0, 1.0, {"x": 3.0}),
        ImageChain("b", 4.0, 2.0, {"x": 6.0}),
    ]
    schedule = legacy_schedule(chains, time_scale=0.01, seed=3)
    slowest = [stage.slowest for stage in schedule.stages]
    assert [round(s) for s in slowest] == [1000, 200, 600]
    for stage in schedule.stages:
        assert stage.slowest <= stage.observed < stage.slowest + 60
    assert schedule.seconds == sum(stage.observed for stage in schedule.stages)
    start = schedule.stages[0].observed + schedule.stages[1].observed
    assert schedule.availability(chains, 0.01) == [start + 300, start + 600]


def test_arm_requests_attributed_per_build_and_copy() -> None:
    log, _ = _log_and_operations()
    counts = arm_request_counts(_tasks(), log)
    assert counts["per_build"]["mean"] == 4
    assert counts["per_copy"]["mean"] == 4
    assert counts["per_run"] == 1
    assert counts["per_run_by_kind"] == {"GET customimages": 1}


def test_copy_read_polls_within_retry_after() -> None:
    log, operations = _log_and_operations()
    polls = copy_read_polls(_tasks(), log, operations, retry_after_seconds=15)
    assert polls["copies"] == 1
    assert polls["reads"]["max"] == 2
    assert polls["max_excess"] == 2 - 3


def test_storage_use_splits_app_and_host() -> None:
    before = {"table|GET|entity|tasks": 2}
    after = {
        "table|GET|entity|tasks": 5,
        "queue|POST|messages|factory-build": 1,
        "queue|POST|messages|factory-build-poison": 1,
        "queue|GET|messages|factory-build": 7,
    }
    use = storage_use(before, after)
    assert use.app == {
        "table|GET|entity|tasks": 3,
        "queue|POST|messages|factory-build": 1,
    }
    assert use.host_total == 8
    assert not is_app_request("queue|DELETE|message|factory-build")


def test_report_replaces_only_its_section(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nWritten by hand.\n", encoding="utf-8")
    update_section(page, "bench", "first")
    update_section(page, "scale", "scale table")
    update_section(page, "bench", "second")
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nWritten by hand.\n")
    assert "first" not in text
    assert text.count("<!-- bench:start -->") == 1
    assert text.index("second") < text.index("scale table")


def test_breakdown_steps_add_up_to_run() -> None:
    log, operations = _log_and_operations()
    spans = operation_spans(operations, started_operation_ids(log))
    tasks = _tasks()
    tasks[1].started_at = datetime.fromisoformat(_iso(115))
    tasks[1].finished_at = datetime.fromisoformat(_iso(154))
    run = Run(run_id="r", trigger="manual", ref="refs/heads/main")
    run.created_at = datetime.fromisoformat(_iso(0)) - timedelta(seconds=3)
    run.finished_at = datetime.fromisoformat(_iso(160))
    steps = critical_image_steps(run, tasks, spans, "linux/a")
    seconds = {step.name: step.seconds for step in steps}
    assert [s.seconds for s in steps if s.azure] == [100, 2, 30]
    assert seconds["plan and start the build"] == 3
    assert seconds["upload into the lab, start the custom image"] == 5
    assert seconds["notice the custom image, finish the copy"] == 4
    assert seconds["finalize: retention and the run's status"] == 6
    assert round(sum(s.seconds for s in steps), 6) == 163
