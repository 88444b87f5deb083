"""Evaluate the ARM template expressions that golden image templates use.

A string value that starts with "[" and ends with "]" is an expression, such
as ``[concat(parameters('labName'), '/', parameters('newVMName'))]``. A value
that starts with "[[" is a literal that starts with "[". The evaluator knows
the functions that templates exported from DevTest Labs use: parameters,
variables, concat, resourceGroup, subscription, resourceId, toLower and
toUpper. Any other function raises ExpressionError naming it, so that a
template that needs more is rejected instead of misread.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN_RE = re.compile(
    r"\s*(?:"
    r"(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?[0-9]+)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<punct>[(),.\[\]])"
    r")"
)


class ExpressionError(Exception):
    """An expression that is invalid or uses what the evaluator does not support."""


class MissingParameter(ExpressionError):
    """A parameter without a defaultValue, which the PowerShell factory supplied."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"parameter '{name}' has no defaultValue in the template, because the "
            "PowerShell factory set it when it created the VM"
        )
        self.name = name


@dataclass(frozen=True)
class TemplateScope:
    """The names an expression can refer to: the template's parameters and variables.

    `parameters` maps a parameter name to its value; a parameter that is
    declared without a defaultValue is left out and raises
    MissingParameter when used. `variables` maps a variable name to its
    (unevaluated) value. `lab` names the lab whose resource group
    resourceGroup() and subscription() describe.
    """

    parameters: Mapping[str, Any]
    variables: Mapping[str, Any]
    declared: frozenset[str]
    subscription_id: str = "00000000-0000-0000-0000-000000000000"
    resource_group: str = "resource-group"
    location: str = "location"


def is_expression(value: Any) -> bool:
    return (
        isinstance(value, str)
        and value.startswith("[")
        and value.endswith("]")
        and not value.startswith("[[")
    )


def evaluate_value(value: Any, scope: TemplateScope) -> Any:
    """Return a template value with its expression evaluated (other values unchanged)."""
    return _Evaluator(scope).value(value)


class _Evaluator:
    def __init__(self, scope: TemplateScope) -> None:
        self.scope = scope
        self.evaluating: list[str] = []

    def value(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("[["):
            return value[1:]
        if not is_expression(value):
            return value
        tokens = _tokenize(value[1:-1])
        parser = _ExpressionParser(tokens, value)
        result = parser.expression(self)
        parser.end()
        return result

    def call(self, name: str, args: list[Any]) -> Any:
        function = _FUNCTIONS.get(name.lower())
        if function is None:
            raise ExpressionError(f"function '{name}' is not supported")
        return function(self, args)

    def parameter(self, name: Any) -> Any:
        if not isinstance(name, str) or name not in self.scope.declared:
            raise ExpressionError(f"parameter '{name}' is not declared in the template")
        if name not in self.scope.parameters:
            raise MissingParameter(name)
        return self.value(self.scope.parameters[name])

    def variable(self, name: Any) -> Any:
        if not isinstance(name, str) or name not in self.scope.variables:
            raise ExpressionError(f"variable '{name}' is not declared in the template")
        if name in self.evaluating:
            chain = " -> ".join([*self.evaluating, name])
            raise ExpressionError(f"variables refer to each other in a cycle: {chain}")
        self.evaluating.append(name)
        try:
            return self.value(self.scope.variables[name])
        finally:
            self.evaluating.pop()


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    index = 0
    while index < len(text):
        if text[index:].strip() == "":
            break
        match = _TOKEN_RE.match(text, index)
        if match is None or match.end() == index:
            raise ExpressionError(f"cannot read the expression at '{text[index:]}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        index = match.end()
    return tokens


class _ExpressionParser:
    """Recursive descent over: call | literal, each followed by .name or [index]."""

    def __init__(self, tokens: list[tuple[str, str]], source: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.source = source

    def peek(self) -> tuple[str, str]:
        if self.position < len(self.tokens):
            return self.tokens[self.position]
        return ("end", "")

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end" or (text is not None and token[1] != text):
            expected = f"'{text}'" if text else "more"
            raise ExpressionError(
                f"invalid expression '{self.source}': expected {expected}"
            )
        self.position += 1
        return token

    def end(self) -> None:
        if self.peek()[0] != "end":
            raise ExpressionError(
                f"invalid expression '{self.source}': unexpected '{self.peek()[1]}'"
            )

    def expression(self, evaluator: _Evaluator) -> Any:
        kind, text = self.take()
        if kind == "string":
            value: Any = text[1:-1].replace("''", "'")
        elif kind == "number":
            value = int(text)
        elif kind == "name" and text.lower() in ("true", "false"):
            value = text.lower() == "true"
        elif kind == "name":
            value = evaluator.call(text, self.arguments(evaluator))
        else:
            raise ExpressionError(
                f"invalid expression '{self.source}': unexpected '{text}'"
            )
        return self.accessors(evaluator, value)

    def arguments(self, evaluator: _Evaluator) -> list[Any]:
        self.take("(")
        args: list[Any] = []
        if self.peek()[1] == ")":
            self.take(")")
            return args
        while True:
            args.append(self.expression(evaluator))
            if self.take()[1] == ")":
                return args
            self.position -= 1
            self.take(",")

    def accessors(self, evaluator: _Evaluator, value: Any) -> Any:
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                value = _member(value, self.take()[1])
            else:
                value = _member(value, self.expression(evaluator))
                self.take("]")
        return value


def _member(value: Any, key: Any) -> Any:
    if isinstance(value, dict) and key in value:
        return value[key]
    if isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
        return value[key]
    raise ExpressionError(f"the value has no member '{key}'")


def _concat(evaluator: _Evaluator, args: list[Any]) -> Any:
    if args and all(isinstance(arg, list) for arg in args):
        return [item for arg in args for item in arg]
    if not all(isinstance(arg, str | int) for arg in args):
        raise ExpressionError("concat() takes strings, or arrays only")
    return "".join(str(arg) for arg in args)


def _resource_id(evaluator: _Evaluator, args: list[Any]) -> str:
    """Return the id that resourceId() builds, with the lab's subscription and group."""
    if not all(isinstance(arg, str) for arg in args):
        raise ExpressionError("resourceId() takes strings only")
    type_index = next((i for i, arg in enumerate(args) if "/" in arg), None)
    if type_index is None or type_index > 2:
        raise ExpressionError(
            "resourceId() needs a resource type such as 'Microsoft.DevTestLab/labs'"
        )
    scope = evaluator.scope
    subscription, group = scope.subscription_id, scope.resource_group
    if type_index == 2:
        subscription, group = args[0], args[1]
    elif type_index == 1:
        group = args[0]
    provider, *types = args[type_index].split("/")
    names = args[type_index + 1 :]
    if len(names) != len(types):
        raise ExpressionError(
            f"resourceId() of type '{args[type_index]}' needs {len(types)} names, "
            f"got {len(names)}"
        )
    path = "/".join(f"{kind}/{name}" for kind, name in zip(types, names, strict=True))
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}"
        f"/providers/{provider}/{path}"
    )


def _one_string(name: str, convert: Callable[[str], str]) -> Callable[..., str]:
    def function(evaluator: _Evaluator, args: list[Any]) -> str:
        if len(args) != 1 or not isinstance(args[0], str):
            raise ExpressionError(f"{name}() takes one string")
        return convert(args[0])

    return function


def _one_argument(
    name: str, lookup: Callable[[_Evaluator, Any], Any]
) -> Callable[..., Any]:
    def function(evaluator: _Evaluator, args: list[Any]) -> Any:
        if len(args) != 1:
            raise ExpressionError(f"{name}() takes one argument")
        return lookup(evaluator, args[0])

    return function


def _resource_group(evaluator: _Evaluator, args: list[Any]) -> dict[str, str]:
    scope = evaluator.scope
    return {
        "id": f"/subscriptions/{scope.subscription_id}/resourceGroups/{scope.resource_group}",
        "name": scope.resource_group,
        "location": scope.location,
    }


def _subscription(evaluator: _Evaluator, args: list[Any]) -> dict[str, str]:
    scope = evaluator.scope
    return {
        "id": f"/subscriptions/{scope.subscription_id}",
        "subscriptionId": scope.subscription_id,
    }


_FUNCTIONS: dict[str, Callable[[_Evaluator, list[Any]], Any]] = {
    "parameters": _one_argument("parameters", _Evaluator.parameter),
    "variables": _one_argument("variables", _Evaluator.variable),
    "concat": _concat,
    "resourceid": _resource_id,
    "resourcegroup": _resource_group,
    "subscription": _subscription,
    "tolower": _one_string("toLower", str.lower),
    "toupper": _one_string("toUpper", str.upper),
}
