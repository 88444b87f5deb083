"""Source maps from converted configuration files back to the files they came from.

The converter writes the new format and the ordinary validator checks it.
Its issues name converted files and fields, such as
``images/win2016/datacenter.yaml`` and ``artifacts[0].name``. A source map
turns them back into the original file, line, column and JSON path, so that
a user of the old layout is pointed at the file they wrote.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from shared.config.issues import ConfigIssue
from shared.config.limits import LABS_FILE
from shared.migrate.jsonnodes import JsonNode

# The last ".name" or "[index]" of a field path.
_LAST_SEGMENT_RE = re.compile(r"(.*)(\.[^.\[\]]+|\[[0-9]+\])$")


@dataclass
class SourceMap:
    """Where the fields of one converted file came from.

    `fields` maps a field path of the converted file to the JSON node it came
    from and that node's path in the original file. `failed` contains the fields
    left out because their value could not be read, which is reported already.
    """

    source: str
    fields: dict[str, tuple[JsonNode | None, str]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    def is_failed(self, converted: str) -> bool:
        """Return whether a field, or a field it is part of, was left out as unreadable."""
        return any(
            converted == failed or converted.startswith((failed + ".", failed + "["))
            for failed in self.failed
        )

    def add(self, converted: str, node: JsonNode | None, original: str) -> None:
        self.fields[converted] = (node, original)

    def locate(self, converted: str) -> tuple[JsonNode | None, str]:
        """Return the node and original path of a field, or of its nearest mapped parent."""
        current = converted
        while True:
            if current in self.fields:
                return self.fields[current]
            match = _LAST_SEGMENT_RE.fullmatch(current)
            if match is None:
                return self.fields.get("", (None, ""))
            current = match.group(1)


def remap_issue(issue: ConfigIssue, sources: dict[str, SourceMap]) -> ConfigIssue:
    """Return the issue with the original file, position and field of a converted one."""
    source = sources.get(issue.file)
    if source is None:
        return issue
    message = issue.message
    labs = sources.get(LABS_FILE)
    if labs is not None:
        message = message.replace(
            f"to {LABS_FILE}", f"to the ImagePaths in {labs.source}"
        )
    if issue.line is None and not issue.field:
        # A problem of the whole file.
        return dataclasses.replace(issue, file=source.source, message=message)
    node, original = source.locate(issue.field)
    return dataclasses.replace(
        issue,
        file=source.source,
        line=node.line if node else None,
        column=node.column if node else None,
        field=original,
        message=message,
    )


def reported_already(issue: ConfigIssue, sources: dict[str, SourceMap]) -> bool:
    """Return whether an issue is about a converted field left out as unreadable."""
    source = sources.get(issue.file)
    return source is not None and source.is_failed(issue.field)
