"""Print configuration issues as text, JSON or CI annotations.

`github` writes GitHub Actions workflow commands (``::error file=...``) and
`azure` writes Azure Pipelines logging commands (``##vso[task.logissue]``),
so that a pull request shows each problem on its line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, TextIO

from shared.config import ConfigIssue

FORMATS = ("text", "json", "github", "azure")


def issue_to_json(issue: ConfigIssue) -> dict[str, Any]:
    return {
        "file": issue.file,
        "line": issue.line,
        "column": issue.column,
        "field": issue.field,
        "message": issue.message,
        "severity": issue.severity,
    }


def write_issues(
    issues: list[ConfigIssue], output_format: str, root: Path, out: TextIO
) -> None:
    """Write one line per issue, errors first, in a text or annotation format."""
    ordered = [i for i in issues if i.severity == "error"]
    ordered += [i for i in issues if i.severity != "error"]
    for issue in ordered:
        if output_format == "github":
            out.write(_github_command(issue, root) + "\n")
        elif output_format == "azure":
            out.write(_azure_command(issue, root) + "\n")
        else:
            out.write(f"{issue}\n")


def _github_command(issue: ConfigIssue, root: Path) -> str:
    # Workflow command escaping, as GitHub's actions/toolkit does it.
    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    properties = [f"file={prop(_path_in_checkout(issue.file, root))}"]
    if issue.line is not None:
        properties.append(f"line={issue.line}")
    if issue.column is not None:
        properties.append(f"col={issue.column}")
    if issue.field:
        properties.append(f"title={prop(issue.field)}")
    return f"::{issue.severity} {','.join(properties)}::{data(issue.message)}"


def _azure_command(issue: ConfigIssue, root: Path) -> str:
    # Logging command escaping, as azure-pipelines-task-lib does it.
    def data(text: str) -> str:
        return text.replace("%", "%AZP25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(";", "%3B").replace("]", "%5D")

    # Azure Pipelines takes absolute source paths.
    path = os.path.abspath(root / issue.file)
    properties = [f"type={issue.severity}", f"sourcepath={prop(path)}"]
    if issue.line is not None:
        properties.append(f"linenumber={issue.line}")
    if issue.column is not None:
        properties.append(f"columnnumber={issue.column}")
    message = f"{issue.field}: {issue.message}" if issue.field else issue.message
    return f"##vso[task.logissue {';'.join(properties)};]{data(message)}"


def _path_in_checkout(file: str, root: Path) -> str:
    """Return the issue's file relative to the working directory.

    In a CI job the working directory is the checkout, and annotations name
    files relative to it.
    """
    return os.path.normpath(os.path.join(root, file)).replace(os.sep, "/")


def count(number: int, noun: str) -> str:
    """Return "1 image" or "3 images"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
