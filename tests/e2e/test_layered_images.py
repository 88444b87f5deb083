"""Layered images end to end: a child image starts from its parent's newest version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from scripts.localstack import ConfigRepo, LocalStack

from .dedicated_stack import (
    FACTORY_LAB_ID,
    TEAM_LAB_IDS,
    dedicated_stack,
    disk_record,
    emulator_control,
    push_and_wait,
    tasks_of,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

BASE_YAML = """\
description: Ubuntu with git, the base of the tools image
os_type: Linux
base:
  gallery:
    publisher: Canonical
    offer: 0001-com-ubuntu-server-jammy
    sku: 22_04-lts-gen2
artifacts:
  - name: linux-apt-package
    parameters:
      packages: git
"""
TOOLS_YAML = """\
description: The base image with a JDK
os_type: Linux
base:
  image: linux/base
artifacts:
  - linux-java
"""


@pytest.fixture(scope="module")
def layered(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalStack, ConfigRepo]]:
    """A stack of its own over a repository with linux/tools built on linux/base."""
    config = tmp_path_factory.mktemp("layered-config")
    team_lab = TEAM_LAB_IDS[0]
    files = {
        "factory.yaml": f"factory:\n  lab: {FACTORY_LAB_ID}\n",
        "labs.yaml": f"labs:\n  - name: team\n    lab: {team_lab}\n    images: [linux]\n",
        "images/linux/base.yaml": BASE_YAML,
        "images/linux/tools.yaml": TOOLS_YAML,
    }
    for path, text in files.items():
        (config / path).parent.mkdir(parents=True, exist_ok=True)
        (config / path).write_text(text)
    with dedicated_stack(tmp_path_factory.mktemp("layered"), config) as started:
        yield started


@pytest.fixture(scope="module")
def first_run(layered: tuple[LocalStack, ConfigRepo]) -> dict[str, Any]:
    stack, repo = layered
    return push_and_wait(stack, repo, {}, "Build the layered images")


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["task_id"]: task for task in data["tasks"]}


def test_layered_first_run_succeeds(first_run: dict[str, Any]) -> None:
    tasks = by_id(first_run)

    assert first_run["run"]["status"] == "succeeded", first_run["run"]["error"]
    assert {t["image"] for t in tasks_of(first_run, "build")} == {
        "linux/base",
        "linux/tools",
    }
    assert tasks["copy|linux/base|(factory)"]["status"] == "succeeded"
    assert tasks["copy|linux/tools|team"]["status"] == "succeeded"


def test_layered_run_leaves_no_upload(
    layered: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    # The base's copy into the factory lab goes through an upload URI too.
    stack, _ = layered
    service = BlobServiceClient.from_connection_string(stack.storage_connection_string)
    uploads = [
        f"{container.name}/{blob.name}"
        for container in service.list_containers()
        if container.name.endswith("-uploads")
        for blob in service.get_container_client(container.name).list_blobs()
    ]

    assert uploads == []


def test_layered_child_built_after_factory_copy(first_run: dict[str, Any]) -> None:
    tasks = by_id(first_run)
    factory_copy = tasks["copy|linux/base|(factory)"]
    child = tasks["build|linux/tools"]

    assert factory_copy["finished_at"] <= child["started_at"]
    assert tasks["build|linux/base"]["finished_at"] <= factory_copy["started_at"]


def test_layered_child_contains_parent(
    layered: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, _ = layered
    tasks = by_id(first_run)
    record = disk_record(stack, tasks["copy|linux/tools|team"]["custom_image_id"])
    parent = record["source"]["customImage"]
    parent_image = tasks["copy|linux/base|(factory)"]

    assert parent["id"].lower() == parent_image["custom_image_id"].lower()
    assert [a["name"] for a in parent["record"]["artifacts"]] == [
        "linux-apt-package",
        "linux-deprovision",
    ]
    assert [a["name"] for a in record["artifacts"]] == [
        "linux-java",
        "linux-deprovision",
    ]


def test_layered_parent_change_rebuilds_child(
    layered: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, repo = layered
    changed = BASE_YAML.replace("packages: git", "packages: git curl")
    data = push_and_wait(
        stack, repo, {"images/linux/base.yaml": changed}, "Add curl to the base"
    )
    tasks = by_id(data)
    version = tasks["build|linux/base"]["version"]

    assert data["run"]["status"] == "succeeded", data["run"]["error"]
    assert {t["image"] for t in tasks_of(data, "build")} == {
        "linux/base",
        "linux/tools",
    }
    record = disk_record(stack, tasks["copy|linux/tools|team"]["custom_image_id"])
    parent = record["source"]["customImage"]
    assert (
        parent["id"]
        .lower()
        .endswith("/customimages/linux-base-" + version.replace(".", "-"))
    )
    assert parent["record"]["artifacts"][0]["parameters"] == {"packages": "git curl"}


def test_layered_child_change_reuses_parent(
    layered: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, repo = layered
    changed = TOOLS_YAML + "  - linux-install-docker\n"
    data = push_and_wait(
        stack, repo, {"images/linux/tools.yaml": changed}, "Add Docker to the tools"
    )
    tasks = by_id(data)

    assert data["run"]["status"] == "succeeded", data["run"]["error"]
    assert [t["image"] for t in tasks_of(data, "build")] == ["linux/tools"]
    assert "copy|linux/base|(factory)" not in tasks
    assert "copy|linux/base|team" not in tasks


def test_layered_unchanged_push_builds_nothing(
    layered: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, repo = layered
    data = push_and_wait(stack, repo, {"NOTES.md": "notes\n"}, "Add notes")

    assert data["run"]["status"] == "succeeded"
    assert [t for t in data["tasks"] if t["kind"] != "retire"] == []


def test_layered_parent_failure_skips_child_then_retry(
    layered: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, repo = layered
    emulator_control(
        stack,
        "POST",
        "faults",
        json={"kind": "artifact_failure", "artifact": "linux-apt-package", "count": 1},
    )
    changed = BASE_YAML.replace("packages: git", "packages: git wget")
    failed = push_and_wait(
        stack, repo, {"images/linux/base.yaml": changed}, "Add wget to the base"
    )
    tasks = by_id(failed)

    assert failed["run"]["status"] == "failed"
    assert tasks["build|linux/base"]["status"] == "failed"
    assert tasks["copy|linux/base|(factory)"]["status"] == "skipped"
    assert tasks["build|linux/tools"]["status"] == "skipped"
    assert "did not reach the factory lab" in tasks["build|linux/tools"]["error"]
    assert tasks["copy|linux/tools|team"]["status"] == "skipped"

    response = stack.api().post(f"/api/runs/{failed['run']['run_id']}/retry")
    assert response.status_code == 202, response.text
    retried = wait_for_run(stack, failed["run"]["run_id"])
    tasks = by_id(retried)

    assert retried["run"]["status"] == "succeeded", retried["run"]["error"]
    assert tasks["build|linux/tools"]["status"] == "succeeded"
    assert tasks["copy|linux/tools|team"]["status"] == "succeeded"
