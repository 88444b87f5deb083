"""Read Labs.json of the PowerShell image factory: the team labs and their image paths.

Each entry names a lab by SubscriptionId, ResourceGroup and LabName, and
lists ImagePaths relative to GoldenImages/: a path that ends in ".json"
names one template, any other path a folder whose templates all go to the
lab. Lab ids can come from a mapping instead (LabName to resource id), for
a file that still contains the sample's placeholders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config.issues import IssueCollector, close_match, did_you_mean
from shared.config.resource_ids import (
    GUID_RE,
    LAB_NAME_RE,
    RESOURCE_GROUP_RE,
    parse_resource_id,
)
from shared.migrate.jsonnodes import JsonNode

LAB_KEYS = ("SubscriptionId", "ResourceGroup", "LabName", "ImagePaths")
_PART_RULES = {
    "SubscriptionId": (GUID_RE, "a subscription id (a GUID)"),
    "ResourceGroup": (
        RESOURCE_GROUP_RE,
        "a resource group name (1 to 90 letters, digits, '_', '(', ')', '-' or '.')",
    ),
    "LabName": (LAB_NAME_RE, "a lab name (1 to 50 letters, digits, '_' or '-')"),
}


@dataclass(frozen=True)
class ImagePath:
    """One ImagePaths entry and where it is in Labs.json."""

    path: str
    node: JsonNode
    field: str


@dataclass
class LegacyLab:
    """A Labs.json entry. `lab_id` is None when the lab's id has errors.

    `valid` is false when the entry has any error.
    """

    field: str
    node: JsonNode
    lab_name: str | None
    lab_id: str | None
    image_paths: list[ImagePath] = dataclasses.field(default_factory=list)
    valid: bool = False


def read_labs_file(
    path: str,
    root: JsonNode,
    lab_map: Mapping[str, str],
    issues: IssueCollector,
) -> list[LegacyLab]:
    """Return the entries of Labs.json in order, reporting every problem."""
    reader = _LabsReader(path, lab_map, issues)
    labs = reader.read(root)
    names = {lab.lab_name for lab in labs}
    for key in sorted(set(lab_map) - names):
        issues.add_position(
            path,
            None,
            None,
            "",
            f"the lab mapping names '{key}', but no entry of {path} has that "
            f"LabName. Map one of: {', '.join(sorted(str(n) for n in names))}.",
        )
    return labs


class _LabsReader:
    def __init__(
        self, path: str, lab_map: Mapping[str, str], issues: IssueCollector
    ) -> None:
        self.path = path
        self.lab_map = lab_map
        self.issues = issues

    def error(self, node: JsonNode | None, field: str, message: str) -> None:
        line, column = (node.line, node.column) if node else (None, None)
        self.issues.add_position(self.path, line, column, field, message)

    def read(self, root: JsonNode) -> list[LegacyLab]:
        if not root.is_object or "Labs" not in root.value:
            self.error(
                root,
                "",
                'expected an object with a "Labs" list. Write {"Labs": [...]}.',
            )
            return []
        self.unknown_keys(root, "", ("Labs",))
        labs_node = root.value["Labs"]
        if not labs_node.is_array:
            self.error(labs_node, "Labs", "expected a list of labs.")
            return []
        labs = []
        for index, node in enumerate(labs_node.value):
            lab = self.lab(node, f"Labs[{index}]")
            if lab is not None:
                labs.append(lab)
        return labs

    def unknown_keys(
        self, node: JsonNode, field: str, allowed: tuple[str, ...]
    ) -> set[str]:
        """Report unknown keys; return the allowed keys they look like typos of."""
        suggested = set()
        for key, key_node in node.keys.items():
            if key in allowed:
                continue
            suggestion = close_match(key, allowed)
            if suggestion is not None:
                suggested.add(suggestion)
            self.error(
                key_node,
                f"{field}.{key}" if field else key,
                f"unknown field '{key}'.{did_you_mean(key, allowed)} "
                f"Allowed fields here: {', '.join(allowed)}.",
            )
        return suggested

    def lab(self, node: JsonNode, field: str) -> LegacyLab | None:
        if not node.is_object:
            self.error(node, field, "expected an object that names a lab.")
            return None
        errors_before = self.issues.error_count
        typos = self.unknown_keys(node, field, LAB_KEYS)
        values = node.value
        name_node = values.get("LabName")
        lab_name = name_node.value if name_node is not None else None
        lab = LegacyLab(
            field, node, lab_name if isinstance(lab_name, str) else None, None
        )
        if isinstance(lab_name, str) and lab_name in self.lab_map:
            lab.lab_id = self.mapped_id(lab_name, name_node, field)
        else:
            lab.lab_id = self.lab_id(node, field, str(lab_name or "<LabName>"))
        if "ImagePaths" in values or "ImagePaths" not in typos:
            lab.image_paths = self.image_paths(values.get("ImagePaths"), node, field)
        lab.valid = self.issues.error_count == errors_before
        return lab

    def mapped_id(self, lab_name: str, node: JsonNode | None, field: str) -> str | None:
        try:
            return parse_resource_id(self.lab_map[lab_name]).id
        except ValueError as exc:
            self.error(
                node, f"{field}.LabName", f"the lab mapping for '{lab_name}': {exc}"
            )
            return None

    def lab_id(self, node: JsonNode, field: str, lab_name: str) -> str | None:
        parts: dict[str, str] = {}
        for key, (pattern, expected) in _PART_RULES.items():
            part = node.value.get(key)
            if part is None:
                self.error(
                    node,
                    f"{field}.{key}",
                    f"required field '{key}' is missing. Add it to this lab.",
                )
                continue
            value = part.value
            if isinstance(value, str) and pattern.fullmatch(value):
                parts[key] = value
                continue
            placeholder = isinstance(value, str) and value.startswith("<")
            kind = "a placeholder" if placeholder else "invalid"
            self.error(
                part,
                f"{field}.{key}",
                f"{key} '{value}' is {kind}, not {expected}. Set the lab's real "
                "value, or map the lab to its resource id with "
                f"--map-lab '{lab_name}=<lab resource id>'.",
            )
        if len(parts) != len(_PART_RULES):
            return None
        return parse_resource_id(
            f"/subscriptions/{parts['SubscriptionId']}/resourceGroups/"
            f"{parts['ResourceGroup']}/providers/Microsoft.DevTestLab/labs/"
            f"{parts['LabName']}"
        ).id

    def image_paths(
        self, node: JsonNode | None, lab: JsonNode, field: str
    ) -> list[ImagePath]:
        field = f"{field}.ImagePaths"
        if node is None:
            self.error(
                lab,
                field,
                "required field 'ImagePaths' is missing. List the templates or "
                "folders below GoldenImages/ that the lab receives.",
            )
            return []
        if not node.is_array:
            self.error(node, field, "expected a list of paths below GoldenImages/.")
            return []
        paths = []
        for index, item in enumerate(node.value):
            if isinstance(item.value, str):
                paths.append(ImagePath(item.value, item, f"{field}[{index}]"))
            else:
                self.error(
                    item,
                    f"{field}[{index}]",
                    "expected a path below GoldenImages/ in double quotes.",
                )
        return paths
