"""Artifact source and artifact operations: ArtifactSources_List, _Get,
Artifacts_List, _Get.

Each lab has the one artifact source ``public repo``, which serves the
public DevTest Labs artifact catalog.

Not emulated: other artifact sources (creating, updating, deleting them),
Artifacts_GenerateArmTemplate, and the ``public environment repo``.
"""

from __future__ import annotations

from typing import Any

from emulator import errors
from emulator.catalog import (
    PUBLIC_REPO_DISPLAY_NAME,
    PUBLIC_REPO_NAME,
    PUBLIC_REPO_URI,
    ArtifactDefinition,
)
from emulator.devtestlab.base import BackendBase
from emulator.devtestlab.models import Lab


class ArtifactsMixin(BackendBase):
    def list_artifact_sources(self, lab: Lab) -> list[dict[str, Any]]:
        return [self._render_source(lab)]

    def get_artifact_source(self, lab: Lab, name: str) -> dict[str, Any]:
        self._check_source(lab, name)
        return self._render_source(lab)

    def list_artifacts(self, lab: Lab, source: str) -> list[dict[str, Any]]:
        self._check_source(lab, source)
        return [self._render_artifact(lab, item) for item in self.ctx.catalog.all()]

    def get_artifact(self, lab: Lab, source: str, name: str) -> dict[str, Any]:
        self._check_source(lab, source)
        definition = self.ctx.catalog.get(name)
        if definition is None:
            raise errors.resource_not_found(
                "Microsoft.DevTestLab/labs/artifactsources/artifacts",
                f"{lab.name}/{source}/{name}",
                lab.resource_group,
            )
        return self._render_artifact(lab, definition)

    def _check_source(self, lab: Lab, name: str) -> None:
        if name.lower() != PUBLIC_REPO_NAME:
            raise errors.resource_not_found(
                "Microsoft.DevTestLab/labs/artifactsources",
                f"{lab.name}/{name}",
                lab.resource_group,
            )

    @staticmethod
    def _render_source(lab: Lab) -> dict[str, Any]:
        return {
            "properties": {
                "displayName": PUBLIC_REPO_DISPLAY_NAME,
                "uri": PUBLIC_REPO_URI,
                "sourceType": "GitHub",
                "folderPath": "/Artifacts",
                "armTemplateFolderPath": "/Environments",
                "branchRef": "master",
                "status": "Enabled",
                "createdDate": lab.created,
                "provisioningState": "Succeeded",
                "uniqueIdentifier": f"{lab.unique_id[:-4]}0001",
            },
            "id": f"{lab.id}/artifactsources/{PUBLIC_REPO_NAME}",
            "name": PUBLIC_REPO_NAME,
            "type": "Microsoft.DevTestLab/labs/artifactsources",
            "location": lab.location,
            "tags": {},
        }

    @staticmethod
    def _render_artifact(lab: Lab, definition: ArtifactDefinition) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "title": definition.title,
            "description": definition.description,
            "publisher": definition.publisher,
            "filePath": f"/Artifacts/{definition.name}",
            "targetOsType": definition.target_os,
            "parameters": definition.raw_parameters,
            "createdDate": lab.created,
        }
        if definition.icon_uri:
            properties["icon"] = definition.icon_uri
        return {
            "properties": properties,
            "id": f"{lab.id}/artifactSources/{PUBLIC_REPO_NAME}/artifacts/{definition.name}",
            "name": definition.name,
            "type": "Microsoft.DevTestLab/labs/artifactSources/artifacts",
            "location": lab.location,
            "tags": {},
        }
