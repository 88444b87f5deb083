"""Validation issues of a configuration repository and the error that lists them."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import yaml

from shared.errors import FactoryError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in the configuration, with its place and a fix.

    `line` and `column` are 1-based and None where the problem has no place
    in a file (a missing file, for example). `field` is the path of the
    setting inside the file, such as ``artifacts[0].parameters.packages``.
    """

    file: str
    line: int | None
    column: int | None
    field: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        location = self.file
        if self.line is not None:
            location += f":{self.line}"
            if self.column is not None:
                location += f":{self.column}"
        parts = [location]
        if self.severity == "warning":
            parts.append("warning")
        if self.field:
            parts.append(self.field)
        parts.append(self.message)
        return ": ".join(parts)

    @property
    def sort_key(self) -> tuple[str, int, int]:
        return (self.file, self.line or 0, self.column or 0)


class ConfigError(FactoryError):
    """Invalid configuration. `issues` contains every error and warning found.

    Never retryable: the same commit fails the same way until someone fixes it.
    """

    retryable = False

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues = list(issues)
        super().__init__(self._describe())

    @property
    def errors(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def warnings(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.severity == "warning"]

    def _describe(self) -> str:
        errors = self.errors
        noun = "error" if len(errors) == 1 else "errors"
        lines = [f"invalid configuration: {len(errors)} {noun}"]
        lines.extend(f"  {issue}" for issue in errors)
        lines.extend(f"  {issue}" for issue in self.warnings)
        return "\n".join(lines)


class IssueCollector:
    """Collects the issues of one load, so that every problem is reported at once."""

    def __init__(self) -> None:
        self.issues: list[ConfigIssue] = []

    def error(
        self, file: str, node: yaml.Node | None, field: str, message: str
    ) -> None:
        self.add(file, node, field, message, "error")

    def warning(
        self, file: str, node: yaml.Node | None, field: str, message: str
    ) -> None:
        self.add(file, node, field, message, "warning")

    def add(
        self,
        file: str,
        node: yaml.Node | None,
        field: str,
        message: str,
        severity: Severity,
    ) -> None:
        line, column = node_position(node)
        self.add_position(file, line, column, field, message, severity)

    def add_position(
        self,
        file: str,
        line: int | None,
        column: int | None,
        field: str,
        message: str,
        severity: Severity = "error",
    ) -> None:
        self.issues.append(ConfigIssue(file, line, column, field, message, severity))

    @property
    def error_count(self) -> int:
        return sum(1 for issue in self.issues if issue.severity == "error")

    def sorted(self) -> list[ConfigIssue]:
        return sorted(self.issues, key=lambda issue: issue.sort_key)


def node_position(node: yaml.Node | None) -> tuple[int | None, int | None]:
    """Return the 1-based line and column where a YAML node starts."""
    if node is None or node.start_mark is None:
        return None, None
    return node.start_mark.line + 1, node.start_mark.column + 1


def close_match(value: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to a misspelt value, or None if none is close."""
    matches = difflib.get_close_matches(value, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    """Return " Did you mean 'x'?" for the closest candidate, or "" if none is close."""
    match = close_match(value, candidates)
    return f" Did you mean '{match}'?" if match is not None else ""
