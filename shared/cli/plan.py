"""imagefactory plan: what a push of a configuration would build, copy and retire.

The plan comes from the same planner a run uses (shared.planner.plan_run),
over the factory's recorded state in Table Storage, and the retention rules
of shared.lifecycle applied to the state the run would leave.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_STATE_UNREADABLE,
    add_catalog_option,
    add_legacy_options,
    config_directory,
    legacy_options,
    load_catalog,
)
from shared.cli.report import issue_to_json, write_issues
from shared.cli.state import (
    RecordedState,
    StateUnreadable,
    open_state,
    predict_retirements,
)
from shared.config import ConfigError, FactoryConfig, load_config_dir
from shared.lifecycle.retention import Retirement
from shared.models import Run, Task, TaskKind, Trigger, utcnow
from shared.planner import FACTORY_LAB, plan_run


@dataclass
class Plan:
    """The tasks a run would have, and the retirements after it."""

    directory: Path
    config: FactoryConfig
    run: Run
    tasks: list[Task]
    retirements: list[Retirement]
    reasons: dict[str, str]

    @property
    def builds(self) -> list[Task]:
        return [task for task in self.tasks if task.kind == TaskKind.BUILD]

    @property
    def copies(self) -> list[Task]:
        return [task for task in self.tasks if task.kind == TaskKind.COPY]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "plan",
        help="show what a push of a configuration would build, copy and retire",
        description="Compare a configuration repository with the factory's "
        "recorded state and list the builds, copies and retirements that a push "
        "of it would run. Changes nothing. Retirements of orphaned factory VMs "
        "and leftover uploaded VHDs are not listed, because plan reads no lab. "
        "Exit status: 0 planned, 1 invalid configuration, 2 usage error, 3 state "
        "unreadable.",
    )
    parser.add_argument("directory", metavar="DIR", help="root of the repository")
    parser.add_argument(
        "--storage-connection-string",
        metavar="CS",
        help="connection string of the factory's storage account (default: the "
        "AzureWebJobsStorage environment variable, which keeps the key out of "
        "the process list)",
    )
    parser.add_argument(
        "--storage-account",
        metavar="NAME",
        help="storage account name, read with your Azure sign-in "
        "(needs the Storage Table Data Reader role)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--images",
        metavar="PATTERN",
        nargs="+",
        help="plan only images that match these patterns, as POST /api/runs does",
    )
    parser.add_argument(
        "--labs", metavar="NAME", nargs="+", help="plan copies to these labs only"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rebuild the selected images even when their version exists",
    )
    add_catalog_option(parser)
    add_legacy_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = config_directory(args.directory)
    catalog = load_catalog(args)
    try:
        config = load_config_dir(root, catalog, legacy_options(args))
    except ConfigError as exc:
        _report_invalid(args, root, exc)
        return EXIT_INVALID
    try:
        state = open_state(args.storage_connection_string, args.storage_account)
        plan = make_plan(root, config, state, args)
    except StateUnreadable as exc:
        sys.stderr.write(f"imagefactory plan: {exc}\n")
        return EXIT_STATE_UNREADABLE
    if args.format == "json":
        json.dump(plan_to_json(plan), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(plan))
    return EXIT_OK


def make_plan(
    root: Path, config: FactoryConfig, state: RecordedState, args: argparse.Namespace
) -> Plan:
    now = utcnow()
    run = Run(
        run_id="plan",
        trigger=Trigger.MANUAL,
        ref="",
        requested_by="imagefactory plan",
        requested_images=args.images,
        requested_labs=args.labs,
        force=args.force,
        created_at=now,
    )
    tasks = plan_run(config, run, state.find_version, state.lab_holds)
    retirements = predict_retirements(config, state, tasks, now)
    reasons = {
        task.image: _build_reason(task, tasks, state, run)
        for task in tasks
        if task.kind == TaskKind.BUILD
    }
    return Plan(root, config, run, tasks, retirements, reasons)


def _build_reason(task: Task, tasks: list[Task], state: RecordedState, run: Run) -> str:
    parent = json.loads(task.definition).get("base_image")
    built = {t.image for t in tasks if t.kind == TaskKind.BUILD}
    if parent and parent["image"] in built:
        return f"its base image {parent['image']} gets a new version"
    versions = [v for v in state.versions if v.image == task.image]
    if run.force and any(v.content_hash == task.content_hash for v in versions):
        return "forced rebuild"
    if not any(v.state == "available" for v in versions):
        return "no version yet"
    if parent:
        return "the definition or its base image version changed"
    return "the definition changed"


def _report_invalid(args: argparse.Namespace, root: Path, exc: ConfigError) -> None:
    if args.format == "json":
        report = {
            "valid": False,
            "errors": [issue_to_json(i) for i in exc.errors],
            "warnings": [issue_to_json(i) for i in exc.warnings],
        }
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    write_issues(exc.issues, "text", root, sys.stdout)
    sys.stdout.write(
        f"invalid configuration: {len(exc.errors)} errors. Nothing is planned; "
        "fix the errors and plan again.\n"
    )


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "valid": True,
        "directory": str(plan.directory),
        "planned_at": plan.run.created_at.isoformat(),
        "builds": [
            {
                "image": task.image,
                "version": task.version,
                "content_hash": task.content_hash,
                "depends_on": task.depends_on or None,
                "reason": plan.reasons.get(task.image, ""),
            }
            for task in plan.builds
        ],
        "copies": [
            {
                "image": task.image,
                "version": task.version,
                "lab": task.lab,
                "lab_id": task.lab_id,
                "custom_image_name": task.custom_image_name,
                "depends_on": task.depends_on or None,
            }
            for task in plan.copies
        ],
        "retirements": [
            {
                "target": str(retirement.target),
                "lab_id": retirement.lab_id or None,
                "image": retirement.image,
                "version": retirement.version,
                "name": retirement.name,
                "reason": retirement.reason,
                "task_id": retirement.task_id,
            }
            for retirement in plan.retirements
        ],
        "warnings": [issue_to_json(issue) for issue in plan.config.warnings],
        "summary": {
            "build": len(plan.builds),
            "copy": len(plan.copies),
            "retire": len(plan.retirements),
        },
    }


def render_text(plan: Plan) -> str:
    lines = [f"warning: {issue}" for issue in plan.config.warnings]
    if lines:
        lines.append("")
    if not plan.tasks and not plan.retirements:
        lines.append(
            "No changes. The labs hold the newest version of every image they "
            "receive, and no version is due for retirement."
        )
        return "\n".join(lines) + "\n"
    lines.append("A push of this configuration would:")
    lines.append("")
    for task in plan.tasks:
        lines.extend(_task_lines(plan, task))
    for retirement in plan.retirements:
        lines.extend(_retirement_lines(retirement))
    lines.append("")
    lines.append(
        f"Plan: {len(plan.builds)} to build, {len(plan.copies)} to copy, "
        f"{len(plan.retirements)} to retire."
    )
    return "\n".join(lines) + "\n"


def _task_lines(plan: Plan, task: Task) -> list[str]:
    if task.kind == TaskKind.BUILD:
        return [
            f"  + build   {task.image}  version {task.version}",
            f"              {plan.reasons.get(task.image, '')}; content hash "
            f"{task.content_hash[:12]}",
        ]
    where = "the factory lab" if task.lab == FACTORY_LAB else f"lab {task.lab}"
    source = "the new version" if task.depends_on else "an existing version"
    purpose = (
        " as the base of the images built on it" if task.lab == FACTORY_LAB else ""
    )
    return [
        f"  + copy    {task.image}  version {task.version}  to {where}",
        f"              custom image {task.custom_image_name}, from {source}{purpose}",
    ]


def _retirement_lines(retirement: Retirement) -> list[str]:
    target = str(retirement.target).replace("_", " ")
    where = (
        f" in lab {retirement.lab_id.rstrip('/').rsplit('/', 1)[-1]}"
        if retirement.lab_id
        else ""
    )
    label = (
        retirement.name
        if target != "vhd"
        else f"{retirement.image} {retirement.version}"
    )
    return [
        f"  - retire  {target} {label}{where}",
        f"              {retirement.reason}",
    ]
