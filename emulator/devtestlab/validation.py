"""Request checks that DevTest Labs makes before it accepts a VM or custom image.

The name rules are those of Azure compute. A Windows computer name has at
most 15 characters and a Linux host name at most 64. Both allow letters,
digits and hyphens, must not be all digits and must not start or end with
a hyphen.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from emulator import errors
from emulator.catalog import PUBLIC_REPO_NAME, ArtifactCatalog, ArtifactDefinition
from emulator.devtestlab.models import Lab

_HOST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$")
_RESOURCE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.()-]{0,79}$")
MAX_NAME_LENGTH = {"windows": 15, "linux": 64}
OS_TYPES = ("Windows", "Linux")

# Sizes that DevTest Labs offers in most regions. NOTE: Azure checks sizes
# against the region's SKU list, which changes over time, so this fixed
# subset may reject a size that Azure accepts.
KNOWN_SIZES = frozenset(
    size.lower()
    for size in (
        "Standard_A1_v2",
        "Standard_A2_v2",
        "Standard_A4_v2",
        "Standard_A8_v2",
        "Standard_B1s",
        "Standard_B1ms",
        "Standard_B2s",
        "Standard_B2ms",
        "Standard_B4ms",
        "Standard_B8ms",
        "Standard_D2_v3",
        "Standard_D4_v3",
        "Standard_D8_v3",
        "Standard_D2s_v3",
        "Standard_D4s_v3",
        "Standard_D8s_v3",
        "Standard_D16s_v3",
        "Standard_D2_v4",
        "Standard_D4_v4",
        "Standard_D2s_v4",
        "Standard_D4s_v4",
        "Standard_D2_v5",
        "Standard_D4_v5",
        "Standard_D8_v5",
        "Standard_D2s_v5",
        "Standard_D4s_v5",
        "Standard_D8s_v5",
        "Standard_D16s_v5",
        "Standard_D2as_v5",
        "Standard_D4as_v5",
        "Standard_D2ds_v5",
        "Standard_D4ds_v5",
        "Standard_DS1_v2",
        "Standard_DS2_v2",
        "Standard_DS3_v2",
        "Standard_DS4_v2",
        "Standard_E2s_v3",
        "Standard_E4s_v3",
        "Standard_E2s_v5",
        "Standard_E4s_v5",
        "Standard_F2s_v2",
        "Standard_F4s_v2",
        "Standard_F8s_v2",
    )
)
_FORBIDDEN_NAME_CHARACTERS = (
    "` ~ ! @ # $ % ^ & * ( ) = + _ [ ] { } \\ | ; : . ' \" , < > / ?"
)


@dataclass(frozen=True)
class ResolvedArtifact:
    artifact_id: str
    definition: ArtifactDefinition
    parameters: list[dict[str, str]]


def normalize_location(location: str) -> str:
    return location.replace(" ", "").lower()


def check_location(location: str | None, lab: Lab) -> None:
    if location and normalize_location(location) != normalize_location(lab.location):
        raise errors.LocationMismatch(
            f"The location '{location}' does not match the location '{lab.location}' "
            f"of lab '{lab.name}'. Resources of a lab must be in the lab's location."
        )


def check_vm_name(name: str, os_type: str) -> None:
    limit = MAX_NAME_LENGTH[os_type.lower()]
    if len(name) <= limit and _HOST_NAME.match(name) and not name.isdigit():
        return
    if os_type.lower() == "windows":
        message = (
            "Windows computer name cannot be more than 15 characters long, be entirely "
            f"numeric, or contain the following characters: {_FORBIDDEN_NAME_CHARACTERS}. "
            f"The name '{name}' is invalid."
        )
    else:
        message = (
            "Linux host name cannot exceed 64 characters in length or contain the "
            f"following characters: {_FORBIDDEN_NAME_CHARACTERS}. The name '{name}' is invalid."
        )
    raise errors.InvalidParameter(message, target="name")


def check_resource_name(name: str, kind: str) -> None:
    if _RESOURCE_NAME.match(name) and not name.endswith("."):
        return
    raise errors.InvalidParameter(
        f"The {kind} name '{name}' is invalid. Use 1 to 80 letters, digits, "
        "underscores, periods, parentheses and hyphens, not ending with a period.",
        target="name",
    )


def check_size(size: str | None, lab: Lab) -> str:
    if not size:
        raise errors.InvalidParameter(
            "The VM size is required.", target="properties.size"
        )
    if size.lower() not in KNOWN_SIZES:
        raise errors.InvalidParameter(
            f"The value '{size}' provided for the VM size is not valid in location "
            f"'{lab.location}'.",
            target="properties.size",
        )
    allowed = lab.allowed_sizes
    if allowed is not None and size.lower() not in {item.lower() for item in allowed}:
        raise errors.InvalidParameter(
            f"The size '{size}' is not allowed by the policy AllowedVmSizesInLab of lab "
            f"'{lab.name}'. Allowed sizes: {', '.join(allowed)}.",
            target="properties.size",
        )
    return size


def check_os_type(os_type: Any, field_name: str) -> str:
    for allowed in OS_TYPES:
        if isinstance(os_type, str) and os_type.lower() == allowed.lower():
            return allowed
    raise errors.InvalidParameter(
        f"The OS type '{os_type}' is invalid. Use Windows or Linux.", target=field_name
    )


def _artifact_name(artifact_id: str, lab: Lab) -> str:
    """Return the artifact name of an artifact id in the lab's public repo."""
    path = artifact_id.strip().rstrip("/")
    lowered = path.lower()
    marker = f"/artifactsources/{PUBLIC_REPO_NAME}/artifacts/"
    position = lowered.find(marker)
    owner = path[:position]
    if position < 0 or (owner and owner.lower() != lab.key):
        raise errors.ArtifactNotFound(
            f"The artifact '{artifact_id}' was not found. Artifacts must come from the "
            f"artifact source '{PUBLIC_REPO_NAME}' of lab '{lab.name}'."
        )
    return path[position + len(marker) :]


def _check_value(artifact: str, parameter: Any, value: str) -> None:
    problem = None
    kind = parameter.type.lower()
    if kind == "int":
        try:
            int(value)
        except ValueError:
            problem = "an integer"
    elif kind == "bool":
        if value.lower() not in ("true", "false"):
            problem = "true or false"
    elif kind in ("array", "object"):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = None
        if not isinstance(decoded, list if kind == "array" else dict):
            problem = f"a JSON {kind}"
    if problem is None and parameter.allowed_values is not None:
        allowed = [str(item) for item in parameter.allowed_values]
        if value not in allowed:
            problem = f"one of {', '.join(allowed)}"
    if problem is None and value == "" and not parameter.allow_empty:
        problem = "a non-empty value"
    if problem is not None:
        raise errors.InvalidArtifactParameter(
            f"The value of parameter '{parameter.name}' of artifact '{artifact}' is invalid: "
            f"expected {problem} (type {parameter.type})."
        )


def resolve_artifacts(
    requested: list[Any], lab: Lab, os_type: str, catalog: ArtifactCatalog
) -> list[ResolvedArtifact]:
    """Check each requested artifact against the catalog and return them in order."""
    resolved = []
    for item in requested:
        if not isinstance(item, dict) or not item.get("artifactId"):
            raise errors.InvalidParameter(
                "Each artifact needs an artifactId.", target="properties.artifacts"
            )
        artifact_id = str(item["artifactId"])
        name = _artifact_name(artifact_id, lab)
        definition = catalog.get(name)
        if definition is None:
            raise errors.ArtifactNotFound(
                f"The artifact '{name}' was not found in the artifact source "
                f"'{PUBLIC_REPO_NAME}' of lab '{lab.name}'."
            )
        if definition.target_os.lower() != os_type.lower():
            raise errors.ArtifactOsTypeMismatch(
                f"The artifact '{definition.name}' targets {definition.target_os} and "
                f"cannot be applied to a {os_type} virtual machine."
            )
        parameters = _resolve_parameters(definition, item.get("parameters") or [])
        resolved.append(ResolvedArtifact(artifact_id, definition, parameters))
    return resolved


def _resolve_parameters(
    definition: ArtifactDefinition, given: list[Any]
) -> list[dict[str, str]]:
    values: dict[str, str] = {}
    for entry in given:
        if not isinstance(entry, dict) or "name" not in entry:
            raise errors.InvalidArtifactParameter(
                f"Each parameter of artifact '{definition.name}' needs a name and a value."
            )
        name = str(entry["name"])
        parameter = definition.parameters.get(name)
        if parameter is None:
            known = ", ".join(sorted(definition.parameters)) or "none"
            raise errors.InvalidArtifactParameter(
                f"The artifact '{definition.name}' has no parameter '{name}'. "
                f"Its parameters: {known}."
            )
        value = entry.get("value")
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        if isinstance(value, bool):
            text = str(value).lower()
        _check_value(definition.name, parameter, "" if value is None else text)
        values[parameter.name] = "" if value is None else text

    for parameter in definition.parameters.values():
        if parameter.required and parameter.name not in values:
            raise errors.InvalidArtifactParameter(
                f"The artifact '{definition.name}' requires the parameter '{parameter.name}', "
                "which was not given."
            )
    return [{"name": name, "value": value} for name, value in values.items()]
