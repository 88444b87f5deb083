"""Planning images built on other images: order, hashes, factory lab copies."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.config import FactoryConfig, load_config_files
from shared.models import ImageVersion, Run, Task
from shared.planner import FACTORY_LAB, custom_image_name, plan_run

from .helpers import LAB_PREFIX, labs_yaml, minimal_files

FACTORY_LAB_ID = f"{LAB_PREFIX}dtl-image-factory"
TEAM_LAB_ID = f"{LAB_PREFIX}dtl-team-web"
FIRST_RUN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SECOND_RUN = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


def layered(parent: str, package: str = "linux-java") -> str:
    return f"os_type: Linux\nbase:\n  image: {parent}\nartifacts:\n  - {package}\n"


def load(images: dict[str, str], labs: str | None = None) -> FactoryConfig:
    changes: dict[str, str | bytes | None] = {
        f"images/{name}.yaml": text for name, text in images.items()
    }
    changes["labs.yaml"] = labs or labs_yaml("linux", "windows")
    return load_config_files(minimal_files(changes))


@dataclass
class FakeState:
    """Recorded versions and lab holdings, filled in as a run would leave them."""

    versions: dict[tuple[str, str], ImageVersion] = field(default_factory=dict)
    holdings: set[tuple[str, str, str]] = field(default_factory=set)

    def find_version(self, image: str, content_hash: str) -> ImageVersion | None:
        return self.versions.get((image, content_hash))

    def lab_holds(self, lab_id: str, image: str, version: str) -> bool:
        return (lab_id.lower(), image, version) in self.holdings

    def record(self, tasks: list[Task]) -> None:
        """Record what the tasks produce when they all succeed."""
        for task in tasks:
            if task.kind == "build":
                self.versions[(task.image, task.content_hash)] = ImageVersion(
                    image=task.image,
                    version=task.version,
                    content_hash=task.content_hash,
                    os_type=task.os_type,
                    vhd_url=f"http://127.0.0.1/images/{task.image}/{task.version}.vhd",
                    commit="c" * 40,
                    run_id=task.run_id,
                    custom_image_name=custom_image_name(task.image, task.version),
                )
            else:
                self.holdings.add((task.lab_id.lower(), task.image, task.version))

    def plan(self, config: FactoryConfig, run: Run) -> list[Task]:
        return plan_run(config, run, self.find_version, self.lab_holds)


def new_run(created_at: datetime = SECOND_RUN, **changes: object) -> Run:
    run = Run(
        run_id=f"{created_at:%Y%m%d-%H%M%S}-abcdef",
        trigger="push",
        ref="refs/heads/main",
        created_at=created_at,
    )
    for name, value in changes.items():
        setattr(run, name, value)
    return run


def by_id(tasks: list[Task]) -> dict[str, Task]:
    return {task.task_id: task for task in tasks}


def built_state(config: FactoryConfig) -> FakeState:
    state = FakeState()
    state.record(state.plan(config, new_run(FIRST_RUN)))
    return state


def test_plan_layered_builds_parent_first() -> None:
    config = load({"linux/tools": layered("linux/base")})
    tasks = FakeState().plan(config, new_run())
    order = [task.task_id for task in tasks]

    assert order.index("build|linux/base") < order.index("build|linux/tools")
    assert order.index("copy|linux/base|(factory)") < order.index("build|linux/tools")


def test_plan_layered_build_waits_for_factory_copy() -> None:
    config = load({"linux/tools": layered("linux/base")})
    tasks = by_id(FakeState().plan(config, new_run()))
    factory_copy = tasks[f"copy|linux/base|{FACTORY_LAB}"]
    child = tasks["build|linux/tools"]
    parent = tasks["build|linux/base"]

    assert factory_copy.depends_on == "build|linux/base"
    assert factory_copy.lab_id == FACTORY_LAB_ID
    assert factory_copy.custom_image_name == "linux-base-20261204-153000"
    assert child.depends_on == factory_copy.task_id
    assert FACTORY_LAB in json.loads(parent.definition)["targets"]


def test_plan_layered_definition_names_base_image() -> None:
    config = load({"linux/tools": layered("linux/base")})
    tasks = by_id(FakeState().plan(config, new_run()))
    definition = json.loads(tasks["build|linux/tools"].definition)

    assert definition["gallery"] is None
    assert definition["base_image"] == {
        "image": "linux/base",
        "version": "20261204.153000",
        "custom_image_name": "linux-base-20261204-153000",
    }


def test_plan_layered_nothing_when_unchanged() -> None:
    config = load({"linux/tools": layered("linux/base")})
    state = built_state(config)

    assert state.plan(config, new_run()) == []


def test_plan_layered_child_change_reuses_factory_copy() -> None:
    config = load({"linux/tools": layered("linux/base")})
    state = built_state(config)
    changed = load({"linux/tools": layered("linux/base", "linux-install-docker")})
    tasks = by_id(state.plan(changed, new_run()))

    assert "build|linux/base" not in tasks
    assert f"copy|linux/base|{FACTORY_LAB}" not in tasks
    assert tasks["build|linux/tools"].depends_on == ""
    definition = json.loads(tasks["build|linux/tools"].definition)
    assert definition["base_image"]["version"] == "20261201.090000"


def test_plan_parent_change_rebuilds_child() -> None:
    config = load({"linux/tools": layered("linux/base")})
    state = built_state(config)
    parent = minimal_files()["images/linux/base.yaml"].decode()
    changed = load(
        {
            "linux/base": parent.replace("packages: git", "packages: git curl"),
            "linux/tools": layered("linux/base"),
        }
    )
    tasks = by_id(state.plan(changed, new_run()))

    assert "build|linux/base" in tasks
    assert "build|linux/tools" in tasks
    assert tasks["build|linux/tools"].depends_on == f"copy|linux/base|{FACTORY_LAB}"


def test_plan_forced_parent_rebuilds_child() -> None:
    config = load({"linux/tools": layered("linux/base")})
    state = built_state(config)
    run = new_run(force=True, requested_images=["linux/base"])
    tasks = by_id(state.plan(config, run))

    assert "build|linux/base" in tasks
    assert "build|linux/tools" in tasks
    assert "copy|linux/tools|team-web" in tasks
    assert "build|windows/base" not in tasks


def test_plan_layered_child_hash_follows_parent_version() -> None:
    config = load({"linux/tools": layered("linux/base")})
    first = by_id(FakeState().plan(config, new_run(FIRST_RUN)))
    second = by_id(FakeState().plan(config, new_run(SECOND_RUN)))

    assert (
        first["build|linux/base"].content_hash
        == second["build|linux/base"].content_hash
    )
    assert (
        first["build|linux/tools"].content_hash
        != second["build|linux/tools"].content_hash
    )


def test_plan_requested_child_builds_missing_parent() -> None:
    config = load({"linux/tools": layered("linux/base")})
    tasks = by_id(FakeState().plan(config, new_run(requested_images=["linux/tools"])))

    assert "build|linux/base" in tasks
    assert "build|linux/tools" in tasks
    assert "build|windows/base" not in tasks


def test_plan_parent_missing_from_factory_lab_copied() -> None:
    config = load({"linux/tools": layered("linux/base")})
    state = built_state(config)
    state.holdings.discard((FACTORY_LAB_ID.lower(), "linux/base", "20261201.090000"))
    changed = load({"linux/tools": layered("linux/base", "linux-install-docker")})
    tasks = by_id(state.plan(changed, new_run()))
    factory_copy = tasks[f"copy|linux/base|{FACTORY_LAB}"]

    assert factory_copy.depends_on == ""
    assert factory_copy.version == "20261201.090000"
    assert factory_copy.vhd_url.endswith("/linux/base/20261201.090000.vhd")
    assert tasks["build|linux/tools"].depends_on == factory_copy.task_id
    assert "copy|linux/base|team-web" not in tasks


def test_plan_chain_of_three_in_order() -> None:
    config = load(
        {"linux/mid": layered("linux/base"), "linux/top": layered("linux/mid")}
    )
    tasks = FakeState().plan(config, new_run())
    builds = [task.image for task in tasks if task.kind == "build"]
    top = by_id(tasks)["build|linux/top"]

    assert builds.index("linux/base") < builds.index("linux/mid")
    assert builds.index("linux/mid") < builds.index("linux/top")
    assert top.depends_on == f"copy|linux/mid|{FACTORY_LAB}"


def test_plan_factory_lab_as_team_lab_copied_once() -> None:
    labs = labs_yaml("linux", "windows") + (
        f"  - name: team-factory\n    lab: {FACTORY_LAB_ID}\n    images: [linux]\n"
    )
    config = load({"linux/tools": layered("linux/base")}, labs)
    tasks = by_id(FakeState().plan(config, new_run()))

    assert f"copy|linux/base|{FACTORY_LAB}" in tasks
    assert "copy|linux/base|team-factory" not in tasks
    assert "copy|linux/tools|team-factory" in tasks


def test_plan_gallery_images_unchanged_by_layering() -> None:
    config = load({})
    tasks = FakeState().plan(config, new_run())

    assert all(task.depends_on in ("", f"build|{task.image}") for task in tasks)
    assert all(task.lab != FACTORY_LAB for task in tasks)
    assert {task.task_id for task in tasks if task.kind == "build"} == {
        "build|linux/base",
        "build|windows/base",
    }
