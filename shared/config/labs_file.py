"""Read labs.yaml: the team labs and the image patterns each subscribes to."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

import yaml

from shared.config import limits
from shared.config.factory_file import read_lab_id
from shared.config.fields import (
    FileContext,
    index_field,
    join_field,
    read_int,
    read_mapping,
    read_string,
    read_string_list,
)
from shared.config.model import TeamLab
from shared.config.patterns import pattern_problem
from shared.config.yamlnodes import describe_node, is_null

LAB_FIELDS = ("name", "lab", "images", "exclude", "versions_to_keep")
LAB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
LAB_NAME_HINT = "Lab names in labs.yaml have letters, digits, '.', '_' and '-'."


@dataclass(frozen=True)
class PatternEntry:
    """One include or exclude pattern of a team lab, with its place in labs.yaml."""

    pattern: str
    field: str
    node: yaml.Node


@dataclass
class LabEntry:
    """A team lab of labs.yaml, with the nodes of its fields and patterns.

    `valid` is false when the entry has errors. Its `lab` then contains what
    could be read (an empty name or lab_id when those are invalid), so that
    its patterns still take part in the duplicate and subscription checks.
    """

    lab: TeamLab
    field: str
    values: dict[str, yaml.Node]
    valid: bool
    patterns: list[PatternEntry] = dataclasses.field(default_factory=list)


def read_labs(ctx: FileContext, root: yaml.Node | None) -> list[LabEntry]:
    """Return the team labs in file order and report every problem."""
    if root is None:
        ctx.error(None, "labs", "file is empty. Set 'labs:' to a list of team labs.")
        return []
    values = read_mapping(ctx, root, "", ("labs",), ("labs",))
    if values is None or "labs" not in values:
        return []
    node = values["labs"]
    if is_null(node):
        return []
    if not isinstance(node, yaml.SequenceNode):
        ctx.error(
            node,
            "labs",
            f"expected a list of team labs, got {describe_node(node)}. "
            "Write one '- name: ...' entry per lab.",
        )
        return []

    entries = []
    for index, item in enumerate(node.value):
        entry = _read_lab(ctx, item, index_field("labs", index))
        if entry is not None:
            entries.append(entry)
    _check_duplicates(ctx, entries)
    return entries


def _read_lab(ctx: FileContext, node: yaml.Node, field: str) -> LabEntry | None:
    values = read_mapping(ctx, node, field, LAB_FIELDS, ("name", "lab", "images"))
    if values is None:
        return None
    errors_before = ctx.issues.error_count

    name = None
    if "name" in values:
        name = read_string(
            ctx,
            values["name"],
            join_field(field, "name"),
            pattern=LAB_NAME_RE,
            pattern_hint=LAB_NAME_HINT,
            max_length=limits.MAX_LAB_NAME,
        )
    lab = (
        read_lab_id(ctx, values["lab"], join_field(field, "lab"))
        if "lab" in values
        else None
    )
    include = _read_patterns(ctx, values.get("images"), join_field(field, "images"))
    exclude = _read_patterns(ctx, values.get("exclude"), join_field(field, "exclude"))
    versions_to_keep = None
    if "versions_to_keep" in values:
        low, high = limits.VERSIONS_TO_KEEP_RANGE
        versions_to_keep = read_int(
            ctx,
            values["versions_to_keep"],
            join_field(field, "versions_to_keep"),
            low,
            high,
        )

    valid = (
        ctx.issues.error_count == errors_before and name is not None and lab is not None
    )
    if valid and "images" in values and not include:
        ctx.warning(
            values["images"],
            join_field(field, "images"),
            f"lab '{name}' subscribes to no image. "
            "Add an image pattern, or remove the lab.",
        )
    team_lab = TeamLab(
        name=name or "",
        lab_id=lab.id if lab is not None else "",
        include=[entry.pattern for entry in include],
        exclude=[entry.pattern for entry in exclude],
        versions_to_keep=versions_to_keep,
    )
    return LabEntry(team_lab, field, values, valid, include + exclude)


def _read_patterns(
    ctx: FileContext, node: yaml.Node | None, field: str
) -> list[PatternEntry]:
    if node is None or is_null(node):
        return []
    items = read_string_list(ctx, node, field)
    if items is None:
        return []

    entries = []
    for index, (pattern, item) in enumerate(items):
        item_field = index_field(field, index)
        problem = pattern_problem(pattern)
        if problem is not None:
            ctx.error(item, item_field, problem)
            continue
        entries.append(PatternEntry(pattern, item_field, item))
    return entries


def _check_duplicates(ctx: FileContext, entries: list[LabEntry]) -> None:
    names: dict[str, LabEntry] = {}
    ids: dict[str, LabEntry] = {}
    for entry in entries:
        lab = entry.lab
        first = names.setdefault(lab.name.lower(), entry) if lab.name else entry
        if first is not entry:
            ctx.error(
                entry.values["name"],
                join_field(entry.field, "name"),
                f"lab name '{lab.name}' is already used on line "
                f"{_line(first.values['name'])}. Give every team lab its own name.",
            )
        first = ids.setdefault(lab.lab_id.lower(), entry) if lab.lab_id else entry
        if first is not entry:
            ctx.error(
                entry.values["lab"],
                join_field(entry.field, "lab"),
                f"lab '{lab.lab_id}' is already listed as '{first.lab.name}' on line "
                f"{_line(first.values['lab'])}. "
                "List every lab once and combine its patterns.",
            )


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1
