"""Catalog of DevTest Labs artifacts that image definitions are checked against."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PARAMETER_TYPES = ("string", "securestring", "int", "bool", "array", "object")

# The artifact definitions of the DevTest Labs public repository, shipped
# with the package for validation without access to a lab.
BUNDLED_ARTIFACTS_DIR = Path(__file__).resolve().parent / "public_artifacts"


class ArtifactCatalogError(ValueError):
    """An artifact definition that cannot be read."""


@dataclass(frozen=True)
class ParameterSpec:
    """One parameter of an artifact, from the `parameters` of its artifactfile.json."""

    name: str
    type: str
    has_default: bool
    default_value: Any
    allow_empty: bool
    allowed_values: tuple[str, ...] | None
    min_length: int | None = None
    max_length: int | None = None

    @property
    def required(self) -> bool:
        """True when the parameter has no defaultValue and allowEmpty is not true."""
        return not self.has_default and not self.allow_empty


@dataclass(frozen=True)
class ArtifactSpec:
    """An artifact: its target OS and parameters."""

    name: str
    title: str
    target_os_type: str | None
    parameters: dict[str, ParameterSpec]


class ArtifactCatalog:
    """Artifacts by name, built from artifactfile.json documents.

    `definitions` maps an artifact name (its folder in the artifact
    repository) to the artifactfile.json document, or to any mapping with
    the same `targetOsType` and `parameters` keys, such as an artifact
    returned by the DevTest Labs artifacts API.
    """

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self._specs = {
            name: _read_artifact(name, definition)
            for name, definition in definitions.items()
        }

    @classmethod
    def from_directory(cls, path: Path | str) -> ArtifactCatalog:
        """Read `<name>/artifactfile.json` of every folder of an artifact repository."""
        root = Path(path)
        if not root.is_dir():
            raise ArtifactCatalogError(
                f"artifact directory '{root}' not found. Pass the folder that "
                "contains one folder per artifact."
            )
        definitions: dict[str, Mapping[str, Any]] = {}
        for folder in sorted(root.iterdir()):
            definition_file = folder / "artifactfile.json"
            if folder.is_dir() and definition_file.is_file():
                definitions[folder.name] = _read_json(definition_file)
        logger.debug("read %d artifact definitions from %s", len(definitions), root)
        return cls(definitions)

    @classmethod
    def bundled(cls) -> ArtifactCatalog:
        """Read the copy of the DevTest Labs public artifact repository in this package.

        A lab offers the same artifacts unless its public repository moved on
        since the copy was taken (see public_artifacts/README.md).
        """
        return cls.from_directory(BUNDLED_ARTIFACTS_DIR)

    def get(self, name: str) -> ArtifactSpec | None:
        return self._specs.get(name)

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ArtifactSpec]:
        return iter(self._specs[name] for name in self.names())

    def __len__(self) -> int:
        return len(self._specs)


def _read_json(path: Path) -> Mapping[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactCatalogError(
            f"cannot read artifact definition '{path}': {exc}. Fix or remove the file."
        ) from exc
    if not isinstance(document, dict):
        raise ArtifactCatalogError(
            f"artifact definition '{path}' is not a JSON object. "
            "Fix or remove the file."
        )
    return document


def _read_artifact(name: str, definition: Mapping[str, Any]) -> ArtifactSpec:
    if not isinstance(definition, Mapping):
        raise ArtifactCatalogError(
            f"definition of artifact '{name}' is not a mapping. "
            "Pass the parsed artifactfile.json."
        )
    raw_parameters = definition.get("parameters") or {}
    if not isinstance(raw_parameters, Mapping):
        raise ArtifactCatalogError(
            f"artifact '{name}': 'parameters' is not a mapping. "
            "Fix the artifact definition."
        )
    parameters = {
        parameter_name: _read_parameter(name, parameter_name, spec)
        for parameter_name, spec in raw_parameters.items()
    }
    target = definition.get("targetOsType")
    return ArtifactSpec(
        name=name,
        title=str(definition.get("title") or name),
        target_os_type=str(target) if target else None,
        parameters=parameters,
    )


def _read_parameter(artifact: str, name: str, spec: Any) -> ParameterSpec:
    if not isinstance(spec, Mapping):
        raise ArtifactCatalogError(
            f"artifact '{artifact}': parameter '{name}' is not a mapping. "
            "Fix the artifact definition."
        )
    allowed = spec.get("allowedValues")
    return ParameterSpec(
        name=name,
        type=str(spec.get("type", "string")).lower(),
        has_default="defaultValue" in spec,
        default_value=spec.get("defaultValue"),
        allow_empty=spec.get("allowEmpty") is True,
        allowed_values=(
            tuple(catalog_value_text(value) for value in allowed)
            if isinstance(allowed, list)
            else None
        ),
        min_length=_optional_int(spec.get("minLength")),
        max_length=_optional_int(spec.get("maxLength")),
    )


def _optional_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def catalog_value_text(value: Any) -> str:
    """Return a catalog value as the string that parameter values are compared with."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)
