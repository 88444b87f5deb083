"""The planner over the example configuration, with recorded state faked in memory."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.config import ArtifactCatalog, FactoryConfig, load_config_dir
from shared.models import ImageVersion, Run
from shared.planner import custom_image_name, plan_run

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "tests" / "fixtures" / "devtestlab-public-artifacts"


@pytest.fixture(scope="module")
def config() -> FactoryConfig:
    catalog = ArtifactCatalog.from_directory(CATALOG)
    return load_config_dir(ROOT / "examples" / "config-repo", catalog)


def new_run(**changes: object) -> Run:
    run = Run(
        run_id="20261204-153000-abcdef",
        trigger="push",
        ref="refs/heads/main",
        created_at=datetime(2026, 12, 4, 15, 30, tzinfo=UTC),
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def version_of(config: FactoryConfig, name: str) -> ImageVersion:
    return ImageVersion(
        image=name,
        version="20261201.000000",
        content_hash=config.images[name].content_hash(),
        os_type=config.images[name].os_type,
        vhd_url=f"http://127.0.0.1/images/{name}/20261201.000000.vhd",
        commit="c" * 40,
        run_id="old",
        custom_image_name=custom_image_name(name, "20261201.000000"),
    )


def test_plan_builds_every_image_on_empty_state(config: FactoryConfig) -> None:
    tasks = plan_run(config, new_run(), lambda i, h: None, lambda lab, i, v: False)
    builds = [t for t in tasks if t.kind == "build"]
    copies = [t for t in tasks if t.kind == "copy"]
    assert {t.image for t in builds} == set(config.images)
    expected = sum(len(config.subscribers(name)) for name in config.images)
    assert len(copies) == expected
    assert all(c.depends_on == f"build|{c.image}" for c in copies)


def test_plan_build_task_carries_definition_and_targets(config: FactoryConfig) -> None:
    tasks = plan_run(config, new_run(), lambda i, h: None, lambda lab, i, v: False)
    build = next(t for t in tasks if t.kind == "build")
    definition = json.loads(build.definition)
    assert definition["os_type"] == build.os_type
    assert sorted(definition["targets"]) == sorted(
        lab.name for lab in config.subscribers(build.image)
    )
    assert build.lab_id == config.factory_lab_id


def test_plan_reuses_existing_version(config: FactoryConfig) -> None:
    name = sorted(config.images)[0]
    existing = version_of(config, name)

    def find(image: str, content_hash: str) -> ImageVersion | None:
        return (
            existing
            if image == name and content_hash == existing.content_hash
            else None
        )

    tasks = plan_run(config, new_run(), find, lambda lab, i, v: False)
    assert f"build|{name}" not in {t.task_id for t in tasks}
    copies = [t for t in tasks if t.image == name]
    assert copies
    assert all(t.depends_on == "" and t.version == existing.version for t in copies)


def test_plan_skips_labs_holding_the_version(config: FactoryConfig) -> None:
    versions = {name: version_of(config, name) for name in config.images}
    tasks = plan_run(
        config, new_run(), lambda i, h: versions[i], lambda lab, i, v: True
    )
    assert tasks == []


def test_plan_force_rebuilds_existing(config: FactoryConfig) -> None:
    name = sorted(config.images)[0]
    tasks = plan_run(
        config,
        new_run(force=True, requested_images=[name]),
        lambda i, h: version_of(config, i),
        lambda lab, i, v: True,
    )
    assert [t.task_id for t in tasks if t.kind == "build"] == [f"build|{name}"]


def test_plan_filters_requested_labs(config: FactoryConfig) -> None:
    lab = config.labs[0].name
    tasks = plan_run(
        config, new_run(requested_labs=[lab]), lambda i, h: None, lambda *a: False
    )
    assert {t.lab for t in tasks if t.kind == "copy"} == {lab}


def test_custom_image_name_is_a_valid_resource_name() -> None:
    assert custom_image_name("linux/ubuntu-node", "20261204.153000") == (
        "linux-ubuntu-node-20261204-153000"
    )
