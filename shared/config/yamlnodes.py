"""Parse configuration YAML into position-carrying nodes, rejecting hostile constructs.

Files are composed, never constructed: the validators read the node tree, so
every value keeps its line and column. Scalars are typed with the YAML 1.2
core schema (only true/false are booleans, so `on`, `yes` and `no` stay
strings), regardless of the tags PyYAML's YAML 1.1 resolver assigns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

import yaml

from shared.config.limits import MAX_YAML_DEPTH

_UTF8_BOM = b"\xef\xbb\xbf"

_NULL_WORDS = {"", "~", "null", "Null", "NULL"}
_BOOL_WORDS = {
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
}
_MAX_INT_DIGITS = 100
_INT_RE = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_RE = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)


class YamlRejected(Exception):
    """A file that is not acceptable YAML, with the 1-based position of the problem."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


class _RestrictedComposer(yaml.SafeLoader):
    """SafeLoader that rejects anchors, aliases, explicit tags and deep nesting."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        _reject_unsupported_event(event)

        self._depth += 1
        if self._depth > MAX_YAML_DEPTH:
            raise _rejected(
                f"nesting is deeper than {MAX_YAML_DEPTH} levels. "
                "Configuration files need only a few levels.",
                event.start_mark,
            )
        try:
            return cast(yaml.Node, super().compose_node(parent, index))
        finally:
            self._depth -= 1


def _reject_unsupported_event(event: yaml.Event) -> None:
    if isinstance(event, yaml.AliasEvent):
        raise _rejected(
            f"YAML aliases ('*{event.anchor}') are not supported. "
            "Write the value out in full.",
            event.start_mark,
        )
    anchor = getattr(event, "anchor", None)
    if anchor:
        raise _rejected(
            f"YAML anchors ('&{anchor}') are not supported. "
            "Remove the anchor and write repeated values out in full.",
            event.start_mark,
        )
    tag = getattr(event, "tag", None)
    if tag not in (None, "!"):
        raise _rejected(
            f"YAML tags ('{tag}') are not supported. "
            "Remove the tag and quote the value if it must be a string.",
            event.start_mark,
        )


def _rejected(message: str, mark: Any) -> YamlRejected:
    if mark is None:
        return YamlRejected(message, None, None)
    return YamlRejected(message, mark.line + 1, mark.column + 1)


def decode_utf8(data: bytes) -> str:
    """Decode a file as UTF-8 (a leading byte order mark is allowed).

    Raises YamlRejected with the line and column of the first invalid byte.
    """
    if data.startswith(_UTF8_BOM):
        data = data[len(_UTF8_BOM) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlRejected(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}). "
            "Save the file as UTF-8.",
            line,
            column,
        ) from exc


def parse_yaml(data: bytes) -> yaml.Node | None:
    """Compose one YAML document into a node tree; None for an empty document.

    Raises YamlRejected for invalid UTF-8, YAML syntax errors, several
    documents in one file, anchors, aliases, tags and nesting deeper than
    MAX_YAML_DEPTH.
    """
    text = decode_utf8(data)
    try:
        loader = _RestrictedComposer(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, exc) from exc
    try:
        return loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        raise _reader_error(text, exc) from exc
    except yaml.MarkedYAMLError as exc:
        context = exc.context
        # PyYAML names the construct being parsed as "while parsing a ...".
        if context and context.startswith("while") and exc.context_mark is not None:
            context += f" that starts on line {exc.context_mark.line + 1}"
        parts = [part for part in (context, exc.problem) if part]
        mark = exc.problem_mark or exc.context_mark
        raise _rejected(
            f"invalid YAML: {', '.join(parts) or 'syntax error'}. "
            "Check the indentation and quoting at this position.",
            mark,
        ) from exc
    finally:
        loader.dispose()


def _reader_error(text: str, exc: yaml.reader.ReaderError) -> YamlRejected:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    return YamlRejected(
        f"invalid YAML: character #x{exc.character:04x} is not allowed. "
        "Remove control characters from the file.",
        line,
        column,
    )


@dataclass(frozen=True)
class Scalar:
    """A scalar node typed by the YAML 1.2 core schema.

    `kind` is one of "null", "bool", "int", "float" and "str". `text` is the
    scalar as written in the file (without quotes).
    """

    kind: str
    value: Any
    text: str


def read_scalar(node: yaml.ScalarNode) -> Scalar:
    text = node.value
    if node.style is not None:
        return Scalar("str", text, text)
    if text in _NULL_WORDS:
        return Scalar("null", None, text)
    if text in _BOOL_WORDS:
        return Scalar("bool", _BOOL_WORDS[text], text)
    if _INT_RE.fullmatch(text) and len(text) <= _MAX_INT_DIGITS:
        base = 0 if text[:2] in ("0o", "0x") else 10
        return Scalar("int", int(text, base), text)
    if _INT_RE.fullmatch(text):
        # Python refuses to convert more than 4300 digits, and no setting
        # needs more than a few: longer runs of digits read as text.
        return Scalar("str", text, text)
    if _FLOAT_RE.fullmatch(text):
        number = text.lower().replace(".inf", "inf").replace(".nan", "nan")
        return Scalar("float", float(number), text)
    return Scalar("str", text, text)


def is_null(node: yaml.Node) -> bool:
    """Return whether a node is an empty value ("", "~" or "null")."""
    return isinstance(node, yaml.ScalarNode) and read_scalar(node).kind == "null"


def describe_node(node: yaml.Node) -> str:
    """Name a node's type for messages: "a list", "a mapping", "a string", ..."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    scalar = read_scalar(cast(yaml.ScalarNode, node))
    return {
        "null": "an empty value",
        "bool": "a boolean",
        "int": "a whole number",
        "float": "a decimal number",
    }.get(scalar.kind, "a string")
