"""Typed readers for YAML nodes that report every problem with its place and a fix."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import yaml

from shared.config.issues import IssueCollector, close_match, did_you_mean
from shared.config.yamlnodes import describe_node, read_scalar


@dataclass
class FileContext:
    """The file being validated and the collector its issues go to."""

    file: str
    issues: IssueCollector

    def error(self, node: yaml.Node | None, field: str, message: str) -> None:
        self.issues.error(self.file, node, field, message)

    def warning(self, node: yaml.Node | None, field: str, message: str) -> None:
        self.issues.warning(self.file, node, field, message)


def join_field(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def index_field(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def read_mapping(
    ctx: FileContext,
    node: yaml.Node,
    field: str,
    allowed: Sequence[str],
    required: Sequence[str] = (),
) -> dict[str, yaml.Node] | None:
    """Return a mapping's values by key, reporting duplicate, unknown and missing keys.

    Returns None when the node is not a mapping. Unknown keys are reported
    and left out. A missing required key is reported at the mapping itself,
    unless an unknown key was reported as a likely typo of it.
    """
    if not isinstance(node, yaml.MappingNode):
        target = f"'{field}'" if field else "the file"
        ctx.error(
            node,
            field,
            f"expected a mapping of settings, got {describe_node(node)}. "
            f"Write {target} as 'key: value' lines.",
        )
        return None

    values: dict[str, yaml.Node] = {}
    key_lines: dict[str, int] = {}
    # A required key that an unknown key resembles is reported once, as a typo.
    suggested: set[str] = set()
    for key_node, value_node in node.value:
        key = _read_key(ctx, key_node, field)
        if key is None:
            continue
        key_field = join_field(field, key)
        if key in values:
            ctx.error(
                key_node,
                key_field,
                f"duplicate key '{key}' (first set on line {key_lines[key]}). "
                "Keep one of them.",
            )
            continue
        if key not in allowed:
            suggestion = close_match(key, allowed)
            if suggestion is not None:
                suggested.add(suggestion)
            ctx.error(
                key_node,
                key_field,
                f"unknown field '{key}'.{did_you_mean(key, allowed)} "
                f"Allowed fields here: {', '.join(allowed)}.",
            )
            continue
        values[key] = value_node
        key_lines[key] = key_node.start_mark.line + 1

    for key in required:
        if key not in values and key not in suggested:
            ctx.error(
                node,
                join_field(field, key),
                f"required field '{key}' is missing. Add it to this mapping.",
            )
    return values


def _read_key(ctx: FileContext, key_node: yaml.Node, field: str) -> str | None:
    if isinstance(key_node, yaml.ScalarNode) and read_scalar(key_node).kind == "str":
        return str(key_node.value)
    ctx.error(
        key_node,
        field,
        f"keys must be names, got {describe_node(key_node)}. "
        "Use a plain word as the key.",
    )
    return None


def read_string(
    ctx: FileContext,
    node: yaml.Node,
    field: str,
    *,
    pattern: re.Pattern[str] | None = None,
    pattern_hint: str = "",
    max_length: int | None = None,
    allow_empty: bool = False,
) -> str | None:
    """Return a string setting, or None after reporting why it is invalid.

    Plain numbers are accepted as their text, so `version: 1.0` reads as
    "1.0". Booleans, empty values, lists and mappings are rejected.
    """
    kind = read_scalar(node).kind if isinstance(node, yaml.ScalarNode) else "collection"
    if kind == "null" and allow_empty:
        return ""
    if kind == "null":
        ctx.error(node, field, "value is empty. Set a text value.")
        return None
    if kind in ("bool", "collection"):
        ctx.error(
            node,
            field,
            f"expected text, got {describe_node(node)}. "
            "Quote the value if it must be read as text.",
        )
        return None

    value = str(node.value)
    if not value and not allow_empty:
        ctx.error(node, field, "value is empty. Set a text value.")
        return None
    if max_length is not None and len(value) > max_length:
        ctx.error(
            node,
            field,
            f"'{_shorten(value)}' is {len(value)} characters long. "
            f"Use at most {max_length} characters.",
        )
        return None
    if pattern is not None and value and not pattern.fullmatch(value):
        ctx.error(node, field, f"invalid value '{_shorten(value)}'. {pattern_hint}")
        return None
    return value


def read_int(
    ctx: FileContext, node: yaml.Node, field: str, low: int, high: int
) -> int | None:
    """Return a whole-number setting within [low, high], or None after reporting."""
    expected = f"a whole number from {low} to {high}"
    if not isinstance(node, yaml.ScalarNode) or read_scalar(node).kind != "int":
        quoted_value = (
            f" '{_shorten(node.value)}'" if isinstance(node, yaml.ScalarNode) else ""
        )
        ctx.error(
            node,
            field,
            f"expected {expected}, got {describe_node(node)}{quoted_value}. "
            "Write a plain number, without quotes or units.",
        )
        return None

    value = int(read_scalar(node).value)
    if not low <= value <= high:
        ctx.error(node, field, f"{value} is out of range. Use {expected}.")
        return None
    return value


def read_choice(
    ctx: FileContext, node: yaml.Node, field: str, choices: Sequence[str]
) -> str | None:
    """Return one of a fixed set of values (case-sensitive), or None after reporting."""
    value = read_string(ctx, node, field)
    if value is None:
        return None
    if value in choices:
        return value

    allowed = ", ".join(choices)
    same_letters = [choice for choice in choices if choice.lower() == value.lower()]
    hint = f" Did you mean '{same_letters[0]}'?" if same_letters else ""
    if not hint:
        hint = did_you_mean(value, choices)
    ctx.error(
        node,
        field,
        f"invalid value '{_shorten(value)}'.{hint} Allowed values: {allowed}.",
    )
    return None


def read_string_list(
    ctx: FileContext, node: yaml.Node, field: str
) -> list[tuple[str, yaml.Node]] | None:
    """Return the valid strings of a list with their nodes, reporting invalid items."""
    if not isinstance(node, yaml.SequenceNode):
        ctx.error(
            node,
            field,
            f"expected a list, got {describe_node(node)}. "
            'Write it as ["a", "b"] or as "- a" lines.',
        )
        return None

    items: list[tuple[str, yaml.Node]] = []
    for index, item in enumerate(node.value):
        value = read_string(ctx, item, index_field(field, index))
        if value is not None:
            items.append((value, item))
    return items


def _shorten(value: str, limit: int = 80) -> str:
    if len(value) <= limit:
        return value
    return value[: limit - 3] + "..."
