"""HTTP trigger route templates in the ASP.NET Core syntax that the Functions host uses.

Supported: literal segments (matched case-insensitively), ``{name}``,
optional ``{name?}``, defaults ``{name=value}``, catch-all ``{*name}`` in the
last segment, and the inline constraints listed in ``_CONSTRAINTS``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

from devhost.errors import RouteTemplateError

_PARAMETER = re.compile(r"\{([^{}]*)\}")
_CONSTRAINT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\((?P<argument>.*)\))?$", re.DOTALL)


def _integer_in(bits: int) -> Callable[[str], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: str) -> bool:
        return re.fullmatch(r"-?\d+", value) is not None and low <= int(value) <= high

    return check


def _parses(parser: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            parser(value)
        except ValueError:
            return False
        return True

    return check


def _number(value: str) -> bool:
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) is not None


_CONSTRAINTS: dict[str, Callable[[str], bool]] = {
    "int": _integer_in(32),
    "long": _integer_in(64),
    "bool": lambda value: value.lower() in ("true", "false"),
    "alpha": lambda value: re.fullmatch(r"[A-Za-z]+", value) is not None,
    "guid": _parses(uuid.UUID),
    "datetime": _parses(datetime.fromisoformat),
    "decimal": _number,
    "double": _number,
    "float": _number,
    "required": lambda value: value != "",
}


def _argument_constraint(name: str, argument: str) -> Callable[[str], bool]:
    """Build a constraint that takes an argument, such as ``min(1)`` or ``regex(^a)``."""
    if name == "regex":
        pattern = re.compile(argument, re.IGNORECASE)
        return lambda value: pattern.search(value) is not None

    numbers = [int(part) for part in argument.split(",")]
    checks: dict[tuple[str, int], Callable[[str], bool]] = {
        ("min", 1): lambda value: _integer_in(64)(value) and int(value) >= numbers[0],
        ("max", 1): lambda value: _integer_in(64)(value) and int(value) <= numbers[0],
        ("range", 2): lambda value: (
            _integer_in(64)(value) and numbers[0] <= int(value) <= numbers[1]
        ),
        ("minlength", 1): lambda value: len(value) >= numbers[0],
        ("maxlength", 1): lambda value: len(value) <= numbers[0],
        ("length", 1): lambda value: len(value) == numbers[0],
        ("length", 2): lambda value: numbers[0] <= len(value) <= numbers[1],
    }
    check = checks.get((name, len(numbers)))
    if check is None:
        raise ValueError(f"unknown constraint {name}({argument})")
    return check


@dataclass(frozen=True)
class RouteParameter:
    """One ``{...}`` parameter of a route template."""

    name: str
    optional: bool = False
    catch_all: bool = False
    default: str | None = None
    constraints: tuple[Callable[[str], bool], ...] = ()

    def accepts(self, value: str) -> bool:
        """Return whether every inline constraint accepts the value."""
        return all(check(value) for check in self.constraints)


@dataclass(frozen=True)
class RouteTemplate:
    """A compiled route template; ``match`` returns the route parameters of a request path."""

    template: str
    pattern: re.Pattern[str]
    parameters: tuple[RouteParameter, ...]
    precedence: tuple[int, ...] = field(default=())

    def match(self, path: str) -> dict[str, str] | None:
        """Match a percent-encoded path (without query) and return the decoded route parameters.

        A trailing slash is ignored, as in ASP.NET Core routing.
        """
        found = self.pattern.fullmatch(path.rstrip("/"))
        if found is None:
            return None

        values: dict[str, str] = {}
        for index, parameter in enumerate(self.parameters):
            raw = found.group(f"p{index}")
            if raw is None or raw == "":
                if parameter.default is not None:
                    values[parameter.name] = parameter.default
                elif not (parameter.optional or parameter.catch_all):
                    return None
                continue

            value = unquote(raw)
            if not parameter.accepts(value):
                return None
            values[parameter.name] = value
        return values


def compile_route(template: str) -> RouteTemplate:
    """Compile a route template such as ``runs/{run_id}/tasks/{task:int?}``.

    Raises RouteTemplateError naming the template when it is malformed or uses
    an unknown constraint.
    """
    stripped = template.strip("/")
    segments = stripped.split("/") if stripped else []
    parameters: list[RouteParameter] = []
    parts: list[str] = []
    precedence: list[int] = []
    optional_seen = False

    for position, segment in enumerate(segments):
        is_last = position == len(segments) - 1
        regex, segment_parameters = _compile_segment(
            template, segment, len(parameters), is_last
        )
        parameters.extend(segment_parameters)
        precedence.append(_rank(segment_parameters))

        optional = _is_optional_segment(segment, segment_parameters)
        if optional_seen and not optional:
            raise RouteTemplateError(
                f"route {template!r}: only optional segments may follow an optional one"
            )
        optional_seen = optional_seen or optional
        parts.append(f"(?:/{regex})?" if optional else f"/{regex}")

    names = [parameter.name.lower() for parameter in parameters]
    if len(set(names)) != len(names):
        raise RouteTemplateError(f"route {template!r} uses a parameter name twice")

    pattern = re.compile("".join(parts), re.IGNORECASE | re.DOTALL)
    return RouteTemplate(template, pattern, tuple(parameters), tuple(precedence))


def _is_optional_segment(segment: str, parameters: list[RouteParameter]) -> bool:
    """Return whether a segment may be left out: one parameter that is optional, has a default or catches all."""
    if len(parameters) != 1 or _PARAMETER.fullmatch(segment) is None:
        return False
    parameter = parameters[0]
    return parameter.optional or parameter.catch_all or parameter.default is not None


def _compile_segment(
    template: str, segment: str, first_index: int, is_last: bool
) -> tuple[str, list[RouteParameter]]:
    """Return the regex and the parameters of one path segment."""
    if segment == "":
        raise RouteTemplateError(f"route {template!r} contains an empty segment")
    if "{" in _PARAMETER.sub("", segment) or "}" in _PARAMETER.sub("", segment):
        raise RouteTemplateError(
            f"route {template!r} has an unbalanced brace in segment {segment!r}"
        )

    regex = ""
    parameters: list[RouteParameter] = []
    position = 0
    for found in _PARAMETER.finditer(segment):
        parameter = _parse_parameter(template, found.group(1))
        group = f"p{first_index + len(parameters)}"
        if parameter.catch_all:
            if not (is_last and found.group(0) == segment):
                raise RouteTemplateError(
                    f"route {template!r}: a catch-all parameter must be the whole last segment"
                )
            regex += f"(?P<{group}>.*)"
        else:
            regex += (
                re.escape(segment[position : found.start()]) + f"(?P<{group}>[^/]+)"
            )
        parameters.append(parameter)
        position = found.end()
    regex += re.escape(segment[position:])

    if len(parameters) > 1 and any(parameter.optional for parameter in parameters):
        raise RouteTemplateError(
            f"route {template!r}: an optional parameter must be alone in its segment"
        )
    return regex, parameters


def _rank(parameters: list[RouteParameter]) -> int:
    """Rank a segment from specific to general, so that the most specific route matches first.

    A literal segment ranks 0, a constrained parameter 1, a plain parameter 2
    and a catch-all 3, which is the order ASP.NET Core routing applies.
    """
    if not parameters:
        return 0
    if any(parameter.catch_all for parameter in parameters):
        return 3
    if all(parameter.constraints for parameter in parameters):
        return 1
    return 2


def _parse_parameter(template: str, body: str) -> RouteParameter:
    """Parse the text between braces: ``*name``, ``name:int:min(1)``, ``name?`` or ``name=default``."""
    catch_all = body.startswith("*")
    body, default = _split_default(body.lstrip("*"))
    optional = body.endswith("?")
    if optional:
        body = body[:-1]

    name, *constraint_texts = _split_top_level(body, ":")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise RouteTemplateError(
            f"route {template!r} has an invalid parameter name {name!r}"
        )

    constraints = tuple(_parse_constraint(template, text) for text in constraint_texts)
    return RouteParameter(name, optional, catch_all, default, constraints)


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on the separator where it is outside parentheses, so that ``regex(a:b)`` stays whole."""
    pieces: list[str] = []
    depth, current = 0, ""
    for character in text:
        if character == separator and depth == 0:
            pieces.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(character, 0)
        current += character
    pieces.append(current)
    return pieces


def _split_default(body: str) -> tuple[str, str | None]:
    """Split ``name:int=5`` into ``name:int`` and the default ``5``."""
    pieces = _split_top_level(body, "=")
    if len(pieces) == 1:
        return body, None
    return pieces[0], "=".join(pieces[1:])


def _parse_constraint(template: str, text: str) -> Callable[[str], bool]:
    found = _CONSTRAINT.match(text)
    if found is None:
        raise RouteTemplateError(
            f"route {template!r} has an invalid constraint {text!r}"
        )

    name, argument = found.group("name").lower(), found.group("argument")
    try:
        if argument is None and name in _CONSTRAINTS:
            return _CONSTRAINTS[name]
        if argument is not None:
            return _argument_constraint(name, argument)
    except (ValueError, re.error) as exc:
        raise RouteTemplateError(
            f"route {template!r}: constraint {text!r} is invalid: {exc}"
        ) from exc
    raise RouteTemplateError(f"route {template!r} uses the unknown constraint {text!r}")
