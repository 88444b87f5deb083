"""Turn a validated configuration into the tasks of one run.

An image whose content hash already has an available version is not
rebuilt; a lab that does not hold the version yet gets a copy of it. The
planner reads recorded state through two callbacks, so it runs in tests
without storage.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.config import FactoryConfig, ImageDefinition, pattern_matches
from shared.models import ImageVersion, Run, Task, TaskKind

VersionLookup = Callable[[str, str], ImageVersion | None]
HoldingLookup = Callable[[str, str, str], bool]


@dataclass(frozen=True)
class PlannedImage:
    """What the plan does with one image: build a new version or reuse one."""

    image: str
    content_hash: str
    version: str
    build: bool
    labs: list[str]


def build_task_id(image: str) -> str:
    return f"build|{image}"


def copy_task_id(image: str, lab: str) -> str:
    return f"copy|{image}|{lab}"


def version_label(created_at: datetime) -> str:
    """Name a new version after its run's start time, e.g. ``20261204.153000``."""
    return created_at.strftime("%Y%m%d.%H%M%S")


def custom_image_name(image: str, version: str) -> str:
    """Name of a version's custom image in the team labs, e.g. ``linux-ubuntu-20261204-153000``."""
    return f"{image.replace('/', '-')}-{version.replace('.', '-')}"


def select(names: list[str], patterns: list[str] | None) -> list[str]:
    """Return the names that match any of ``patterns`` (all names when there are none)."""
    if not patterns:
        return names
    return [n for n in names if any(pattern_matches(p, n) for p in patterns)]


def plan_run(
    config: FactoryConfig,
    run: Run,
    find_version: VersionLookup,
    lab_holds: HoldingLookup,
) -> list[Task]:
    """Return the build and copy tasks that bring the labs up to ``config``."""
    tasks: list[Task] = []
    lab_names = {lab.name for lab in config.labs}
    wanted_labs = set(select(sorted(lab_names), run.requested_labs))
    for name in select(sorted(config.images), run.requested_images):
        image = config.images[name]
        content_hash = image.content_hash()
        existing = None if run.force else find_version(name, content_hash)
        version = existing.version if existing else version_label(run.created_at)
        targets = [
            lab
            for lab in config.subscribers(name)
            if lab.name in wanted_labs
            and not (existing and lab_holds(lab.lab_id, name, existing.version))
        ]
        build_id = ""
        if existing is None:
            build_id = build_task_id(name)
            tasks.append(
                Task(
                    run_id=run.run_id,
                    task_id=build_id,
                    kind=TaskKind.BUILD,
                    image=name,
                    version=version,
                    content_hash=content_hash,
                    os_type=image.os_type,
                    lab_id=config.factory_lab_id,
                    definition=json.dumps(
                        build_definition(image, [lab.name for lab in targets]),
                        sort_keys=True,
                    ),
                )
            )
        for lab in targets:
            tasks.append(
                Task(
                    run_id=run.run_id,
                    task_id=copy_task_id(name, lab.name),
                    kind=TaskKind.COPY,
                    image=name,
                    version=version,
                    content_hash=content_hash,
                    os_type=image.os_type,
                    lab=lab.name,
                    lab_id=lab.lab_id,
                    depends_on=build_id,
                    custom_image_name=custom_image_name(name, version),
                    vhd_url=existing.vhd_url if existing else "",
                )
            )
    return tasks


def build_definition(image: ImageDefinition, targets: list[str]) -> dict[str, Any]:
    """The parts of an image definition a build needs, stored on its task."""
    base = image.base
    return {
        "description": image.description,
        "os_type": image.os_type,
        "gallery": {
            "publisher": base.publisher,
            "offer": base.offer,
            "sku": base.sku,
            "version": base.version,
        },
        "size": image.vm_size,
        "storage_type": image.storage_type,
        "artifacts": [[a.name, dict(a.parameters)] for a in image.artifacts],
        "timeout_minutes": image.build_timeout_minutes,
        "targets": targets,
    }
