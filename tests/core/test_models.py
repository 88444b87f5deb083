from __future__ import annotations

from datetime import UTC, datetime

from shared.models import Run, RunStatus, Task, from_entity, to_entity
from shared.pipeline.finalize import final_status
from shared.queues import StageMessage


def test_run_entity_round_trip() -> None:
    run = Run(
        run_id="20261204-153000-abcdef",
        trigger="manual",
        ref="refs/heads/main",
        requested_images=["linux/*"],
        started_at=datetime(2026, 12, 4, 15, 30, tzinfo=UTC),
    )
    entity = to_entity(run)
    assert entity["requested_images"] == '["linux/*"]'
    assert "finished_at" not in entity
    assert from_entity(Run, entity) == run


def test_task_to_api_has_no_secrets_or_internal_fields() -> None:
    task = Task(
        run_id="r",
        task_id="build|linux/ubuntu",
        kind="build",
        image="linux/ubuntu",
        version="20261204.153000",
        content_hash="ab" * 32,
        os_type="Linux",
        definition='{"artifacts": []}',
    )
    data = task.to_api()
    assert data["task_id"] == "build|linux/ubuntu"
    assert "definition" not in data
    assert data["error"] is None


def test_final_status_table() -> None:
    def run(succeeded: int, failed: int) -> Run:
        return Run(
            run_id="r", trigger="push", ref="", succeeded=succeeded, failed=failed
        )

    assert final_status(run(3, 0)) == RunStatus.SUCCEEDED
    assert final_status(run(0, 0)) == RunStatus.SUCCEEDED
    assert final_status(run(2, 1)) == RunStatus.PARTIALLY_SUCCEEDED
    assert final_status(run(0, 2)) == RunStatus.FAILED


def test_stage_message_round_trip() -> None:
    message = StageMessage(run_id="r1", task_id="copy|a/b|team", check=3)
    assert StageMessage.from_json(message.to_json()) == message


def test_stage_message_rejects_non_object() -> None:
    for body in ('"text"', "[]", '{"task_id": "x"}'):
        try:
            StageMessage.from_json(body)
        except ValueError as exc:
            assert "run_id" in str(exc)
        else:
            raise AssertionError(f"accepted {body}")


def test_task_error_is_redacted_when_stored() -> None:
    task = Task(
        run_id="r",
        task_id="copy|a|b",
        kind="copy",
        image="a",
        version="1",
        content_hash="00",
        os_type="Linux",
        error="403 on https://lab.blob.core.windows.net/uploads/a.vhd?sv=1&sig=SECRETSIG",
    )
    stored = to_entity(task)["error"]
    assert "SECRETSIG" not in stored
    assert "uploads/a.vhd" in stored
