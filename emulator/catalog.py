"""The public artifact repository: artifact definitions that the emulator serves.

Definitions come from ``public_artifacts/<name>/artifactfile.json``, the
files of the DevTest Labs public repository. An artifact whose post-deploy
actions end with ``deallocate`` (``windows-sysprep``, ``linux-deprovision``)
leaves the VM shut down and deallocated.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

PUBLIC_REPO_NAME = "public repo"
PUBLIC_REPO_DISPLAY_NAME = "Public Artifact Repo"
PUBLIC_REPO_URI = "https://github.com/Azure/azure-devtestlab.git"
CATALOG_DIR = Path(__file__).with_name("public_artifacts")


@dataclass(frozen=True)
class ArtifactParameter:
    name: str
    type: str
    default: Any
    has_default: bool
    allow_empty: bool
    allowed_values: tuple[Any, ...] | None

    @property
    def required(self) -> bool:
        return not self.has_default and not self.allow_empty

    @property
    def secret(self) -> bool:
        return self.type.lower() == "securestring"


@dataclass(frozen=True)
class ArtifactDefinition:
    name: str
    title: str
    description: str
    publisher: str
    target_os: str
    icon_uri: str | None
    parameters: dict[str, ArtifactParameter]
    raw_parameters: dict[str, Any]
    post_deploy_actions: tuple[str, ...]

    @property
    def generalizes(self) -> bool:
        """True when the artifact ends by shutting the VM down and deallocating it."""
        return (
            bool(self.post_deploy_actions)
            and self.post_deploy_actions[-1] == "deallocate"
        )


def _parse_parameter(name: str, spec: dict[str, Any]) -> ArtifactParameter:
    allowed = spec.get("allowedValues")
    return ArtifactParameter(
        name=name,
        type=str(spec.get("type", "string")),
        default=spec.get("defaultValue"),
        has_default="defaultValue" in spec,
        allow_empty=bool(spec.get("allowEmpty", False)),
        allowed_values=tuple(allowed) if isinstance(allowed, list) else None,
    )


def _parse_definition(name: str, document: dict[str, Any]) -> ArtifactDefinition:
    raw_parameters = document.get("parameters") or {}
    actions = document.get("postDeployActions") or []
    return ArtifactDefinition(
        name=name,
        title=str(document.get("title", name)),
        description=str(document.get("description", "")),
        publisher=str(document.get("publisher", "")),
        target_os=str(document.get("targetOsType", "")),
        icon_uri=document.get("iconUri"),
        parameters={
            key: _parse_parameter(key, spec) for key, spec in raw_parameters.items()
        },
        raw_parameters=raw_parameters,
        post_deploy_actions=tuple(str(item.get("action", "")) for item in actions),
    )


class ArtifactCatalog:
    """Artifact definitions by name; lookups ignore case, as DevTest Labs does."""

    def __init__(self, definitions: dict[str, ArtifactDefinition]) -> None:
        self._definitions = {name.lower(): item for name, item in definitions.items()}

    @classmethod
    def load(cls, directory: Path = CATALOG_DIR) -> ArtifactCatalog:
        definitions: dict[str, ArtifactDefinition] = {}
        for path in sorted(directory.glob("*/artifactfile.json")):
            name = path.parent.name
            # Some files of the public repository start with a byte order mark.
            document = json.loads(path.read_text(encoding="utf-8-sig"))
            definitions[name] = _parse_definition(name, document)
        logger.info(
            "loaded %d artifact definitions from %s", len(definitions), directory
        )
        return cls(definitions)

    def get(self, name: str) -> ArtifactDefinition | None:
        return self._definitions.get(name.lower())

    def all(self) -> list[ArtifactDefinition]:
        return sorted(self._definitions.values(), key=lambda item: item.name)
