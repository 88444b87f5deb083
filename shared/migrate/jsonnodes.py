"""Parse JSON into nodes that keep their line and column, rejecting hostile input.

The PowerShell image factory's files are JSON: Labs.json and one ARM
template per golden image. Errors about them point at the value at fault,
so the parser keeps the 1-based position of every value. Strings decode
with the standard library's JSON decoder.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from typing import Any

from shared.config.limits import MAX_YAML_DEPTH
from shared.config.yamlnodes import YamlRejected, decode_utf8

MAX_JSON_DEPTH = MAX_YAML_DEPTH
MAX_INTEGER_DIGITS = 100
_NUMBER_RE = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WHITESPACE = " \t\r\n"
_LITERALS = {"true": True, "false": False, "null": None}


class JsonRejected(Exception):
    """A file that is not acceptable JSON, with the 1-based position of the problem."""

    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class JsonNode:
    """A JSON value with its position.

    `value` is a str, int, float, bool or None for scalars, a list of nodes
    for an array and a dict of key to node for an object. `keys` contains the
    key nodes of an object, for errors about a key itself.
    """

    value: Any
    line: int
    column: int
    keys: dict[str, JsonNode] = field(default_factory=dict)

    @property
    def is_object(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_array(self) -> bool:
        return isinstance(self.value, list)

    def plain(self) -> Any:
        """Return the value with every nested node replaced by its plain value."""
        if isinstance(self.value, dict):
            return {key: node.plain() for key, node in self.value.items()}
        if isinstance(self.value, list):
            return [node.plain() for node in self.value]
        return self.value


def parse_json(data: bytes) -> JsonNode:
    """Parse one JSON document (a UTF-8 byte order mark is allowed).

    Raises JsonRejected for invalid UTF-8, syntax errors, duplicate keys,
    nesting deeper than MAX_JSON_DEPTH and trailing content.
    """
    try:
        text = decode_utf8(data)
    except YamlRejected as exc:
        raise JsonRejected(exc.message, exc.line, exc.column) from exc
    parser = _Parser(text)
    parser.skip_whitespace()
    node = parser.value(depth=1)
    parser.skip_whitespace()
    if parser.index < len(text):
        raise parser.error("unexpected content after the JSON value")
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.index = 0
        self.line_starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def error(
        self,
        problem: str,
        index: int | None = None,
        fix: str = "Check the quoting and commas at this position.",
    ) -> JsonRejected:
        line, column = self.position(self.index if index is None else index)
        return JsonRejected(f"invalid JSON: {problem}. {fix}", line, column)

    def skip_whitespace(self) -> None:
        while self.index < len(self.text) and self.text[self.index] in _WHITESPACE:
            self.index += 1

    def value(self, depth: int) -> JsonNode:
        if depth > MAX_JSON_DEPTH:
            line, column = self.position(self.index)
            raise JsonRejected(
                f"nesting is deeper than {MAX_JSON_DEPTH} levels. "
                "Configuration files need only a few levels.",
                line,
                column,
            )
        if self.index >= len(self.text):
            raise self.error("unexpected end of the file")
        char = self.text[self.index]
        line, column = self.position(self.index)
        if char == "{":
            return self.object(line, column, depth)
        if char == "[":
            return self.array(line, column, depth)
        if char == '"':
            return JsonNode(self.string(), line, column)
        return JsonNode(self.scalar(), line, column)

    def object(self, line: int, column: int, depth: int) -> JsonNode:
        node = JsonNode({}, line, column)
        self.index += 1
        self.skip_whitespace()
        if self.peek() == "}":
            self.index += 1
            return node
        while True:
            self.skip_whitespace()
            if self.peek() != '"':
                raise self.error("expected a key in double quotes")
            key_index = self.index
            key_line, key_column = self.position(key_index)
            key = self.string()
            if key in node.value:
                first = node.keys[key]
                raise self.error(
                    f"duplicate key '{key}' (first set on line {first.line})",
                    key_index,
                    "Keep one of them.",
                )
            node.keys[key] = JsonNode(key, key_line, key_column)
            self.skip_whitespace()
            self.expect(":")
            self.skip_whitespace()
            node.value[key] = self.value(depth + 1)
            if self.separator("}"):
                return node

    def array(self, line: int, column: int, depth: int) -> JsonNode:
        node = JsonNode([], line, column)
        self.index += 1
        self.skip_whitespace()
        if self.peek() == "]":
            self.index += 1
            return node
        while True:
            self.skip_whitespace()
            node.value.append(self.value(depth + 1))
            if self.separator("]"):
                return node

    def separator(self, closing: str) -> bool:
        """Consume ',' (return False) or the closing bracket (return True)."""
        self.skip_whitespace()
        char = self.peek()
        self.index += 1
        if char == ",":
            return False
        if char == closing:
            return True
        raise self.error(f"expected ',' or '{closing}'", self.index - 1)

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected '{char}'")
        self.index += 1

    def peek(self) -> str:
        return self.text[self.index] if self.index < len(self.text) else ""

    def string(self) -> str:
        start = self.index
        end = start + 1
        while end < len(self.text) and self.text[end] != '"':
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.error("unterminated string", start)
        self.index = end + 1
        try:
            value = json.loads(self.text[start : end + 1])
        except json.JSONDecodeError as exc:
            problem = exc.msg.lower().removesuffix(" starting at").removesuffix(" at")
            raise self.error(problem, start + exc.pos) from exc
        assert isinstance(value, str)
        return value

    def scalar(self) -> Any:
        for word, value in _LITERALS.items():
            if self.text.startswith(word, self.index):
                self.index += len(word)
                return value
        match = _NUMBER_RE.match(self.text, self.index)
        if match is None:
            raise self.error("expected a value")
        self.index = match.end()
        number = match.group(0)
        if match.group(2) or match.group(3):
            return float(number)
        if len(number) > MAX_INTEGER_DIGITS:
            # Python refuses to convert integers of more than 4300 digits.
            raise self.error(
                f"a number of {len(number)} digits", match.start(), "Shorten it."
            )
        return int(number)
