"""imagefactory plan lists exactly the builds, copies and retirements a run then does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.localstack import ConfigRepo, LocalStack
from shared.cli import main

from .dedicated_stack import (
    dedicated_stack,
    push_and_wait,
    send_push,
    tasks_of,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "config-repo"


@pytest.fixture(scope="module")
def example(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalStack, ConfigRepo]]:
    """A stack of its own over the example repository, after a first run built it all."""
    with dedicated_stack(tmp_path_factory.mktemp("plan-e2e"), EXAMPLE_DIR) as started:
        stack, repo = started
        first = push_and_wait(stack, repo, {}, "Build the example images")
        assert first["run"]["status"] == "succeeded", first["run"]["error"]
        yield started


def changed_files(repo: ConfigRepo) -> dict[str, str]:
    """Change one image, add a subscription and drop another one."""
    docker = (repo.path / "images/linux/ubuntu-docker.yaml").read_text()
    labs = (repo.path / "labs.yaml").read_text()
    labs = labs.replace(
        'images: ["linux/*", "windows/vs2022"]',
        'images: ["linux/*", "windows/vs2022", "windows/sql-tools"]',
    )
    labs = labs.replace(
        "      - linux/ubuntu-node\n",
        "      - linux/ubuntu-node\n      - linux/ubuntu-data\n",
    )
    return {
        "images/linux/ubuntu-docker.yaml": docker.replace(
            "build-essential git", "build-essential git make"
        ),
        "labs.yaml": labs,
    }


def plan_json(
    stack: LocalStack, repo: ConfigRepo, capsys: pytest.CaptureFixture[str]
) -> Any:
    capsys.readouterr()
    status = main(
        [
            "plan",
            str(repo.path),
            "--storage-connection-string",
            stack.storage_connection_string,
            "--format",
            "json",
        ]
    )
    output = capsys.readouterr().out
    assert status == 0, output
    return json.loads(output)


def test_plan_matches_the_run_that_follows(
    example: tuple[LocalStack, ConfigRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, repo = example
    before = repo.head() or "0" * 40
    commit = repo.commit(changed_files(repo), "Change an image and two subscriptions")
    plan = plan_json(stack, repo, capsys)
    run = wait_for_run(stack, send_push(stack, repo, before, commit))

    assert run["run"]["status"] == "succeeded", run["run"]["error"]
    assert sorted(t["image"] for t in tasks_of(run, "build")) == sorted(
        b["image"] for b in plan["builds"]
    )
    assert sorted((t["image"], t["lab"]) for t in tasks_of(run, "copy")) == sorted(
        (c["image"], c["lab"]) for c in plan["copies"]
    )
    assert sorted(t["task_id"] for t in tasks_of(run, "retire")) == sorted(
        r["task_id"] for r in plan["retirements"]
    )


def test_plan_covers_each_kind_of_change(
    example: tuple[LocalStack, ConfigRepo], capsys: pytest.CaptureFixture[str]
) -> None:
    """The compared plan is not trivially empty: it has every kind of action."""
    stack, repo = example
    plan = plan_json(stack, repo, capsys)
    history = stack.api().get("/api/runs").json()["runs"]
    last = stack.api().get(f"/api/runs/{history[0]['run_id']}").json()

    # After the run, the configuration is in place: nothing left to do.
    assert plan["builds"] == []
    assert plan["copies"] == []
    assert [b["image"] for b in tasks_of(last, "build")] == ["linux/ubuntu-docker"]
    assert ("windows/sql-tools", "team-web") in {
        (c["image"], c["lab"]) for c in tasks_of(last, "copy")
    }
    reasons = [t["reason"] for t in tasks_of(last, "retire")]
    assert any("no longer subscribes to linux/ubuntu-data" in r for r in reasons)
    assert any("versions kept in lab team-qa" in r for r in reasons)
