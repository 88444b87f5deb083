"""Plan stage: read the configuration at the run's commit and write the run's tasks."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

from shared.config import (
    ArtifactCatalog,
    ConfigError,
    FactoryConfig,
    load_config_files,
    parse_resource_id,
)
from shared.context import Factory
from shared.gitsource import ConfigSourceError
from shared.lifecycle.health import disabled_images, enable
from shared.models import Run, RunStatus, Trigger
from shared.notify import run_started
from shared.pipeline.runconfig import fetch_run_config
from shared.pipeline.tasks import fail_run, resume_run
from shared.planner import plan_images, plan_run, select
from shared.queues import FINALIZE_QUEUE, StageMessage

logger = logging.getLogger(__name__)


def handle_plan(factory: Factory, message: StageMessage) -> None:
    run = factory.store.get_run(message.run_id)
    if run.status == RunStatus.RUNNING:
        # A repeated delivery, or one after a crash that followed planning.
        resume_run(factory, run)
        return
    if run.status not in (RunStatus.QUEUED, RunStatus.PLANNING):
        logger.info("run %s is %s; nothing to plan", run.run_id, run.status)
        return

    run = factory.store.update_run(run.run_id, _mark_planning(factory))
    run_started(factory, run)
    try:
        snapshot = fetch_run_config(factory, run)
        # Validate the structure first: the factory lab it names offers the
        # artifact catalog that the second pass checks artifacts against.
        draft = load_config_files(snapshot.files)
        factory_lab = parse_resource_id(draft.factory_lab_id)
        catalog = ArtifactCatalog(factory.labs.list_artifacts(factory_lab))
        config = load_config_files(snapshot.files, catalog)
    except ConfigError as exc:
        fail_run(factory, run.run_id, str(exc))
        return
    except ConfigSourceError as exc:
        fail_run(factory, run.run_id, f"could not read the configuration: {exc}")
        return

    unmatched = _unmatched_requests(config, run)
    if unmatched:
        fail_run(factory, run.run_id, unmatched)
        return
    planning = None if run.retire_only else _without_disabled(factory, config, run)
    tasks = (
        []
        if planning is None
        else plan_run(
            config, planning, factory.store.find_version, factory.store.lab_holds
        )
    )
    factory.store.put_tasks(run.run_id, tasks)

    def start(current: Run) -> bool:
        if current.status != RunStatus.PLANNING:
            return False
        current.commit = snapshot.commit
        current.total = len(tasks)
        current.status = RunStatus.RUNNING
        return True

    run = factory.store.update_run(run.run_id, start)
    logger.info(
        "run %s planned at commit %s: %d builds, %d copies",
        run.run_id,
        snapshot.commit,
        sum(1 for t in tasks if t.kind == "build"),
        sum(1 for t in tasks if t.kind == "copy"),
    )
    if not tasks:
        factory.queues.send(FINALIZE_QUEUE, StageMessage(run_id=run.run_id))
        return
    resume_run(factory, run)


def _mark_planning(factory: Factory) -> Callable[[Run], bool]:
    def change(run: Run) -> bool:
        if run.status != RunStatus.QUEUED:
            return False
        run.status = RunStatus.PLANNING
        run.started_at = factory.now()
        return True

    return change


def _unmatched_requests(config: FactoryConfig, run: Run) -> str:
    """Return why a run's requested images or labs name nothing, or ''."""
    problems = []
    images = sorted(config.images)
    for pattern in run.requested_images or []:
        if not select(images, [pattern]):
            problems.append(
                f"images entry {pattern!r} matches no image; images: {', '.join(images)}"
            )
    labs = sorted(lab.name for lab in config.labs)
    for pattern in run.requested_labs or []:
        if not select(labs, [pattern]):
            problems.append(
                f"labs entry {pattern!r} matches no team lab in labs.yaml; labs: {', '.join(labs)}"
            )
    return "; ".join(problems)


def _without_disabled(factory: Factory, config: FactoryConfig, run: Run) -> Run | None:
    """Return the run as planning sees it: disabled images left out.

    A manual run enables the images it names instead. None when every image
    the run would build is disabled and it has nothing else to do.
    """
    names = select(sorted(config.images), run.requested_images)
    if run.trigger == Trigger.MANUAL:
        enable(factory, names)
        return run
    planned = plan_images(config, run, factory.store.find_version)
    builds = {name: p.content_hash for name, p in planned.items() if p.build}
    disabled = disabled_images(factory, builds)
    if not disabled:
        return run
    logger.warning(
        "run %s skips disabled images %s; a manual run or a definition change "
        "enables them again",
        run.run_id,
        ", ".join(sorted(disabled)),
    )
    remaining = [name for name in names if name not in disabled]
    if not remaining:
        return None
    return dataclasses.replace(run, requested_images=remaining)
