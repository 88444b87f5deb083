"""Parsed view of the Bicep files under ``infra/`` for the static checks.

The Bicep CLI is not available to the test suite, so the files are parsed with the
tree-sitter Bicep grammar and the checks read the syntax tree: declarations, references,
object properties, module calls and string literals.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tree_sitter_bicep
from tree_sitter import Language, Node, Parser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA_DIR = REPO_ROOT / "infra"
MAIN_BICEP = INFRA_DIR / "main.bicep"
MAIN_PARAMETERS = INFRA_DIR / "main.parameters.json"

# Declarations whose first identifier child is the declared name, not a reference.
_DECLARATIONS = {
    "parameter_declaration",
    "variable_declaration",
    "output_declaration",
    "resource_declaration",
    "module_declaration",
    "type_declaration",
    "metadata_declaration",
}


@dataclass(frozen=True)
class Param:
    """A ``param`` declaration."""

    name: str
    type_name: str
    has_default: bool
    secure: bool
    description: str
    line: int


@dataclass(frozen=True)
class ModuleCall:
    """A ``module`` declaration: the file it deploys and the params it passes."""

    symbol: str
    path: Path
    params: dict[str, Node]
    body: Node
    line: int


@dataclass(frozen=True)
class Resource:
    """A ``resource`` declaration with its type and API version."""

    symbol: str
    type_name: str
    api_version: str
    existing: bool
    body: Node
    line: int


@dataclass
class BicepFile:
    """One parsed Bicep file."""

    path: Path
    source: bytes
    root: Node
    params: dict[str, Param] = field(default_factory=dict)
    variables: dict[str, Node] = field(default_factory=dict)
    outputs: dict[str, Node] = field(default_factory=dict)
    modules: list[ModuleCall] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)

    @property
    def relative(self) -> str:
        return self.path.relative_to(REPO_ROOT).as_posix()

    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8")

    def location(self, node: Node) -> str:
        row, column = node.start_point
        return f"{self.relative}:{row + 1}:{column + 1}"

    def syntax_errors(self) -> list[str]:
        """Return ``file:line:col: snippet`` for every ERROR or MISSING node."""
        return [
            f"{self.location(node)}: {self.text(node)[:60]!r}"
            for node in walk(self.root)
            if node.type == "ERROR" or node.is_missing
        ]

    def references(self) -> Counter[str]:
        """Count identifiers used as values: not declared names, keys or function names."""
        return Counter(
            self.text(node) for node in walk(self.root) if _is_reference(node)
        )

    def string_literals(self) -> list[str]:
        """Return the literal text of every string, interpolations left out."""
        return [
            "".join(
                self.text(part)
                for part in node.children
                if part.type == "string_content"
            )
            for node in walk(self.root)
            if node.type == "string"
        ]

    def code_without_strings(self) -> str:
        """Return the source with comments and string contents blanked out."""
        blanked = bytearray(self.source)
        for node in walk(self.root):
            if node.type in ("comment", "string_content", "escape_sequence"):
                blanked[node.start_byte : node.end_byte] = b" " * (
                    node.end_byte - node.start_byte
                )
        return blanked.decode("utf-8")

    def properties(self, key: str, within: Node | None = None) -> list[Node]:
        """Return the value nodes of every object property named ``key``."""
        return [
            value
            for name, value in object_properties(within or self.root)
            if name == key
        ]

    def property_texts(self, key: str, within: Node | None = None) -> list[str]:
        return [self.text(value) for value in self.properties(key, within)]

    def resources_of_type(self, type_name: str) -> list[Resource]:
        return [r for r in self.resources if r.type_name.lower() == type_name.lower()]

    def module(self, file_name: str) -> ModuleCall:
        """Return the single module call that deploys ``file_name``."""
        calls = [m for m in self.modules if m.path.name == file_name]
        if len(calls) != 1:
            raise LookupError(
                f"{self.relative} calls {file_name} {len(calls)} times, expected once"
            )
        return calls[0]


def walk(node: Node) -> Iterator[Node]:
    """Yield ``node`` and all of its descendants, depth first."""
    yield node
    for child in node.children:
        yield from walk(child)


def object_properties(node: Node) -> Iterator[tuple[str, Node]]:
    """Yield ``(key, value)`` for every object property in the subtree of ``node``."""
    for candidate in walk(node):
        if candidate.type != "object_property":
            continue
        named = candidate.named_children
        if len(named) < 2 or named[0].text is None:
            continue
        key = named[0].text.decode("utf-8")
        yield _unquote(key), named[-1]


def string_value(file: BicepFile, node: Node) -> str | None:
    """Return a string literal's value, or None for anything else (or interpolations)."""
    if node.type != "string" or any(c.type == "interpolation" for c in node.children):
        return None
    return "".join(file.text(c) for c in node.children if c.type == "string_content")


@functools.cache
def _parser() -> Parser:
    return Parser(Language(tree_sitter_bicep.language()))


@functools.cache
def load(path: Path) -> BicepFile:
    """Parse one Bicep file and index its declarations."""
    source = path.read_bytes()
    parsed = BicepFile(path=path, source=source, root=_parser().parse(source).root_node)
    decorators: Node | None = None
    for node in parsed.root.named_children:
        if node.type == "decorators":
            decorators = node
            continue
        _index_declaration(parsed, node, decorators)
        decorators = None
    return parsed


def bicep_files() -> list[BicepFile]:
    """Return every Bicep file under ``infra/``, main first."""
    paths = sorted(
        INFRA_DIR.rglob("*.bicep"), key=lambda p: (p != MAIN_BICEP, p.as_posix())
    )
    return [load(path) for path in paths]


def _index_declaration(parsed: BicepFile, node: Node, decorators: Node | None) -> None:
    named = node.named_children
    if not named:
        return
    name = parsed.text(named[0])
    line = node.start_point[0] + 1
    if node.type == "parameter_declaration":
        calls = _decorator_calls(parsed, decorators)
        parsed.params[name] = Param(
            name=name,
            type_name=parsed.text(named[1]) if len(named) > 1 else "",
            has_default=len(named) > 2,
            secure="secure" in calls,
            description=calls.get("description", ""),
            line=line,
        )
    elif node.type == "variable_declaration":
        parsed.variables[name] = named[-1]
    elif node.type == "output_declaration":
        parsed.outputs[name] = named[-1]
    elif node.type == "module_declaration":
        body = named[-1]
        target = parsed.path.parent / (string_value(parsed, named[1]) or "")
        params_nodes = [v for k, v in _top_properties(body) if k == "params"]
        params = dict(_top_properties(params_nodes[0])) if params_nodes else {}
        parsed.modules.append(ModuleCall(name, target.resolve(), params, body, line))
    elif node.type == "resource_declaration":
        type_ref = string_value(parsed, named[1]) or ""
        type_name, _, api_version = type_ref.partition("@")
        existing = any(child.type == "existing" for child in node.children)
        parsed.resources.append(
            Resource(name, type_name, api_version, existing, named[-1], line)
        )


def _decorator_calls(parsed: BicepFile, decorators: Node | None) -> dict[str, str]:
    """Map each decorator's name to the text of its first string argument ('' if none)."""
    calls: dict[str, str] = {}
    if decorators is None:
        return calls
    for decorator in decorators.named_children:
        call = decorator.named_children[0] if decorator.named_children else None
        function = call.child_by_field_name("function") if call is not None else None
        if call is None or function is None:
            continue
        arguments = call.child_by_field_name("arguments")
        strings = (
            [a for a in arguments.named_children if a.type == "string"]
            if arguments
            else []
        )
        text = parsed.text(strings[0])[1:-1] if strings else ""
        calls[parsed.text(function)] = text
    return calls


def _top_properties(node: Node) -> list[tuple[str, Node]]:
    """Return the properties of the object at ``node``, looking through for/if wrappers."""
    while node.type in ("for_statement", "if_statement"):
        node = node.named_children[-1]
    if node.type != "object":
        return []
    result = []
    for child in node.named_children:
        if child.type == "object_property" and len(child.named_children) >= 2:
            key = child.named_children[0].text or b""
            result.append((_unquote(key.decode("utf-8")), child.named_children[-1]))
    return result


def _is_reference(node: Node) -> bool:
    if node.type != "identifier" or node.parent is None:
        return False
    parent = node.parent
    first_named = parent.named_children[0] if parent.named_children else None
    if parent.type in _DECLARATIONS and first_named == node:
        return False
    if parent.type == "object_property" and first_named == node:
        return False
    return not (
        parent.type == "call_expression"
        and parent.child_by_field_name("function") == node
    )


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key
