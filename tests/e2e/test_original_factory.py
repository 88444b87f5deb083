"""The PowerShell image factory's sample configuration, run as it is and migrated."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulator.seed import (
    DEFAULT_RESOURCE_GROUP,
    DEFAULT_SUBSCRIPTION_ID,
    DEFAULT_TEAM_LABS,
)
from scripts.localstack import ConfigRepo, LocalStack
from shared.cli import main

from .dedicated_stack import (
    FACTORY_LAB_ID,
    TEAM_LAB_IDS,
    dedicated_stack,
    disk_record,
    push_and_wait,
    tasks_of,
)

pytestmark = pytest.mark.e2e

SAMPLE_DIR = (
    Path(__file__).resolve().parents[1] / "fixtures" / "original-factory-config"
)
SAMPLE_IMAGES = {
    "win2012r2/vs2015-enterprise-with-azure-sdk",
    "win2016/datacenter",
    "win2016/sqlserver-2016-express",
}
TEAM_LAB_ID = TEAM_LAB_IDS[0]


def sample_with_lab_ids(target: Path) -> Path:
    """Copy the sample with its placeholders replaced by the emulator's team lab.

    The factory lab goes into factory.yaml next to Labs.json, which is all the
    old layout needs to run as it is.
    """
    shutil.copytree(SAMPLE_DIR, target)
    labs = json.loads((target / "Labs.json").read_text())
    labs["Labs"][0].update(
        SubscriptionId=DEFAULT_SUBSCRIPTION_ID,
        ResourceGroup=DEFAULT_RESOURCE_GROUP,
        LabName=DEFAULT_TEAM_LABS[0],
    )
    (target / "Labs.json").write_text(json.dumps(labs, indent=2))
    (target / "factory.yaml").write_text(f"factory:\n  lab: {FACTORY_LAB_ID}\n")
    return target


@pytest.fixture(scope="module")
def original(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LocalStack, ConfigRepo]]:
    config = sample_with_lab_ids(tmp_path_factory.mktemp("original") / "config")
    with dedicated_stack(tmp_path_factory.mktemp("original-stack"), config) as started:
        yield started


@pytest.fixture(scope="module")
def first_run(original: tuple[LocalStack, ConfigRepo]) -> dict[str, Any]:
    stack, repo = original
    return push_and_wait(stack, repo, {}, "Run the PowerShell factory's configuration")


def test_original_sample_run_succeeds(first_run: dict[str, Any]) -> None:
    assert first_run["run"]["status"] == "succeeded", first_run["run"]["error"]
    assert {t["image"] for t in tasks_of(first_run, "build")} == SAMPLE_IMAGES


def test_original_sample_reaches_team_lab(
    original: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, _ = original
    copies = tasks_of(first_run, "copy")

    assert {c["image"] for c in copies} == SAMPLE_IMAGES
    assert all(c["status"] == "succeeded" for c in copies)
    assert all(
        c["custom_image_id"].lower().startswith(TEAM_LAB_ID.lower()) for c in copies
    )
    record = disk_record(
        stack,
        next(c for c in copies if c["image"] == "win2016/datacenter")[
            "custom_image_id"
        ],
    )
    assert record["osType"] == "Windows"
    assert record["source"]["galleryImage"]["sku"] == "2016-Datacenter"


def test_original_sample_unchanged_push_builds_nothing(
    original: tuple[LocalStack, ConfigRepo], first_run: dict[str, Any]
) -> None:
    stack, repo = original
    data = push_and_wait(stack, repo, {"README.md": "notes\n"}, "Edit the readme")

    assert data["run"]["status"] == "succeeded"
    assert tasks_of(data, "build") == []
    assert tasks_of(data, "copy") == []


def test_original_sample_migrated_plans_nothing_new(
    original: tuple[LocalStack, ConfigRepo],
    first_run: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stack, repo = original
    migrated = tmp_path / "migrated"
    status = main(["migrate", str(repo.path), str(migrated)])
    capsys.readouterr()
    status_plan = main(
        [
            "plan",
            str(migrated),
            "--storage-connection-string",
            stack.storage_connection_string,
            "--format",
            "json",
        ]
    )
    report = json.loads(capsys.readouterr().out)

    # The migrated repository names the same images, so nothing rebuilds.
    assert status == 0
    assert status_plan == 0
    assert report["builds"] == []
    assert report["copies"] == []
