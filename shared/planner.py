"""Turn a validated configuration into the tasks of one run.

An image whose content hash already has an available version is not
rebuilt; a lab that does not hold the version yet gets a copy of it. The
planner reads recorded state through two callbacks, so it runs in tests
without storage.

Images built on another image are planned after it. Their content hash
covers the parent's resolved version, so a new parent version rebuilds every
image below it in the same run. A layered build starts from the parent's
version as a custom image in the factory lab: a copy task to the
``FACTORY_LAB`` pseudo lab puts it there (the distribute stage does the
work, as for a team lab), and the child's build waits for that copy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.config import FactoryConfig, ImageDefinition, pattern_matches
from shared.config.model import GalleryImage, ResolvedParent
from shared.config.model import custom_image_name as custom_image_name
from shared.models import ImageVersion, Run, Task, TaskKind

VersionLookup = Callable[[str, str], ImageVersion | None]
HoldingLookup = Callable[[str, str, str], bool]

# The lab name of copy tasks into the factory lab. Lab names in labs.yaml
# cannot contain parentheses, so it never clashes with a team lab.
FACTORY_LAB = "(factory)"


@dataclass(frozen=True)
class PlannedImage:
    """The plan's decision for one image: build a new version or reuse one.

    `included` is false for an image the run neither builds nor copies; its
    version is still resolved for the images built on it. `version` is
    empty when the image has no version and the run does not build one.
    """

    image: str
    content_hash: str
    version: str
    build: bool
    included: bool
    existing: ImageVersion | None = None
    parent: ResolvedParent | None = None


def build_task_id(image: str) -> str:
    return f"build|{image}"


def copy_task_id(image: str, lab: str) -> str:
    return f"copy|{image}|{lab}"


def version_label(created_at: datetime) -> str:
    """Name a new version after its run's start time, e.g. ``20261204.153000``."""
    return created_at.strftime("%Y%m%d.%H%M%S")


def select(names: list[str], patterns: list[str] | None) -> list[str]:
    """Return the names that match any of ``patterns`` (all names when there are none)."""
    if not patterns:
        return names
    return [n for n in names if any(pattern_matches(p, n) for p in patterns)]


def plan_images(
    config: FactoryConfig, run: Run, find_version: VersionLookup
) -> dict[str, PlannedImage]:
    """Decide, parents first, which images the run builds and which versions it reuses.

    The run builds:

    - a requested image whose content hash has no version, or every requested
      image when the run is forced;
    - an image that a requested image is built on, when it has no version;
    - every image built on an image that the run builds.
    """
    requested = set(select(sorted(config.images), run.requested_images))
    needed = requested | _ancestors(config, requested)
    planned: dict[str, PlannedImage] = {}
    for name in config.build_order():
        image = config.images[name]
        parent = _resolved_parent(image, planned)
        if image.parent is not None and parent is None:
            # The parent has no version and the run builds none.
            planned[name] = PlannedImage(name, image.content_hash(), "", False, False)
            continue
        content_hash = image.content_hash(parent)
        forced = run.force and name in requested
        existing = None if forced else find_version(name, content_hash)
        parent_built = image.parent is not None and planned[image.parent].build
        build = existing is None and (name in needed or parent_built)
        version = ""
        if build:
            version = version_label(run.created_at)
        elif existing is not None:
            version = existing.version
        planned[name] = PlannedImage(
            image=name,
            content_hash=content_hash,
            version=version,
            build=build,
            included=build or (name in requested and existing is not None),
            existing=None if build else existing,
            parent=parent,
        )
    return planned


def plan_run(
    config: FactoryConfig,
    run: Run,
    find_version: VersionLookup,
    lab_holds: HoldingLookup,
) -> list[Task]:
    """Return the build and copy tasks that bring the labs up to ``config``.

    Tasks come parents first, so a listing of them reads in build order.
    """
    planned = plan_images(config, run, find_version)
    wanted_labs = set(select([lab.name for lab in config.labs], run.requested_labs))
    factory_copies = _factory_copies(config, planned, lab_holds)
    tasks: list[Task] = []
    for name in config.build_order():
        plan = planned[name]
        if not plan.included:
            continue
        image = config.images[name]
        targets = [
            lab
            for lab in config.subscribers(name)
            if lab.name in wanted_labs
            and not (plan.existing and lab_holds(lab.lab_id, name, plan.version))
            # The factory lab copy, when there is one, also serves this lab.
            and not (name in factory_copies and _is_factory_lab(config, lab.lab_id))
        ]
        target_names = [lab.name for lab in targets]
        if name in factory_copies:
            target_names.append(FACTORY_LAB)
        build_id = ""
        if plan.build:
            build_id = build_task_id(name)
            tasks.append(_build_task(config, run, image, plan, target_names))
        for lab in targets:
            tasks.append(_copy_task(run, image, plan, lab.name, lab.lab_id, build_id))
        if name in factory_copies:
            tasks.append(
                _copy_task(
                    run, image, plan, FACTORY_LAB, config.factory_lab_id, build_id
                )
            )
    for name in factory_copies:
        if not planned[name].included:
            plan = planned[name]
            image = config.images[name]
            tasks.append(
                _copy_task(run, image, plan, FACTORY_LAB, config.factory_lab_id, "")
            )
    return _ordered(config, tasks)


def _ancestors(config: FactoryConfig, names: set[str]) -> set[str]:
    found: set[str] = set()
    for name in names:
        parent = config.images[name].parent
        while parent is not None and parent in config.images and parent not in found:
            found.add(parent)
            parent = config.images[parent].parent
    return found


def _resolved_parent(
    image: ImageDefinition, planned: dict[str, PlannedImage]
) -> ResolvedParent | None:
    if image.parent is None:
        return None
    parent = planned[image.parent]
    if not parent.version:
        return None
    return ResolvedParent(parent.image, parent.version, parent.content_hash)


def _factory_copies(
    config: FactoryConfig,
    planned: dict[str, PlannedImage],
    lab_holds: HoldingLookup,
) -> set[str]:
    """Return the parents whose version the run must copy into the factory lab."""
    parents = set()
    for plan in planned.values():
        if not plan.build or plan.parent is None:
            continue
        parent = planned[plan.parent.name]
        if parent.build or not lab_holds(
            config.factory_lab_id, parent.image, parent.version
        ):
            parents.add(parent.image)
    return parents


def _is_factory_lab(config: FactoryConfig, lab_id: str) -> bool:
    return lab_id.lower() == config.factory_lab_id.lower()


def _build_task(
    config: FactoryConfig,
    run: Run,
    image: ImageDefinition,
    plan: PlannedImage,
    targets: list[str],
) -> Task:
    depends_on = ""
    if plan.parent is not None:
        # Wait for the parent version's custom image in the factory lab,
        # unless the lab has it already.
        depends_on = copy_task_id(plan.parent.name, FACTORY_LAB)
    return Task(
        run_id=run.run_id,
        task_id=build_task_id(image.name),
        kind=TaskKind.BUILD,
        image=image.name,
        version=plan.version,
        content_hash=plan.content_hash,
        os_type=image.os_type,
        lab_id=config.factory_lab_id,
        depends_on=depends_on,
        definition=json.dumps(
            build_definition(image, targets, plan.parent), sort_keys=True
        ),
    )


def _copy_task(
    run: Run,
    image: ImageDefinition,
    plan: PlannedImage,
    lab: str,
    lab_id: str,
    build_id: str,
) -> Task:
    return Task(
        run_id=run.run_id,
        task_id=copy_task_id(image.name, lab),
        kind=TaskKind.COPY,
        image=image.name,
        version=plan.version,
        content_hash=plan.content_hash,
        os_type=image.os_type,
        lab=lab,
        lab_id=lab_id,
        depends_on=build_id,
        custom_image_name=custom_image_name(image.name, plan.version),
        vhd_url=plan.existing.vhd_url if plan.existing else "",
    )


def _ordered(config: FactoryConfig, tasks: list[Task]) -> list[Task]:
    """Sort tasks parents first, and clear dependencies on tasks the plan left out.

    A layered build depends on its parent's factory lab copy, which the plan
    leaves out when the factory lab has that version already.
    """
    task_ids = {task.task_id for task in tasks}
    for task in tasks:
        if task.depends_on and task.depends_on not in task_ids:
            task.depends_on = ""
    order = {name: index for index, name in enumerate(config.build_order())}
    return sorted(tasks, key=lambda task: order[task.image])


def build_definition(
    image: ImageDefinition,
    targets: list[str],
    parent: ResolvedParent | None = None,
) -> dict[str, Any]:
    """Return the parts of an image definition a build needs, stored on its task.

    A build starts from either `gallery`, a Marketplace image, or
    `base_image`, the parent version whose custom image in the factory lab
    is named `custom_image_name`.
    """
    definition: dict[str, Any] = {
        "description": image.description,
        "os_type": image.os_type,
        "gallery": None,
        "size": image.vm_size,
        "storage_type": image.storage_type,
        "artifacts": [[a.name, dict(a.parameters)] for a in image.artifacts],
        "timeout_minutes": image.build_timeout_minutes,
        "targets": targets,
    }
    base = image.base
    if isinstance(base, GalleryImage):
        definition["gallery"] = {
            "publisher": base.publisher,
            "offer": base.offer,
            "sku": base.sku,
            "version": base.version,
        }
    elif parent is not None:
        definition["base_image"] = {
            "image": parent.name,
            "version": parent.version,
            "custom_image_name": custom_image_name(parent.name, parent.version),
        }
    return definition
