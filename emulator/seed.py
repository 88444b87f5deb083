"""Labs, identities and role assignments that the emulator starts with.

They come from a YAML seed file, or from the default seed: one factory lab
and three team labs in one resource group, and a system-assigned managed
identity with Contributor and Storage Blob Data Contributor on each lab and
its storage account.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_SUBSCRIPTION_ID = "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"
DEFAULT_TENANT_ID = "4b1d2c3e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
DEFAULT_RESOURCE_GROUP = "rg-imagefactory"
DEFAULT_LOCATION = "westeurope"
DEFAULT_FACTORY_LAB = "dtl-image-factory"
DEFAULT_TEAM_LABS = ("dtl-team-web", "dtl-team-data", "dtl-team-qa")
DEFAULT_PRINCIPAL_ID = "3c9e1f4a-8d2b-4e6f-a1c7-5b0d9e2f8a61"

_CONTAINER_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?!-)){1,46}[a-z0-9]$")


class SeedError(ValueError):
    """The seed file is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageSeed(_Strict):
    """Storage settings of a lab: the prefix of its container names."""

    container_prefix: str | None = Field(
        default=None,
        description="prefix of the lab's containers; defaults to a slug of the lab name",
    )


class LabSeed(_Strict):
    name: str = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_-]+$")
    resource_group: str = Field(min_length=1, max_length=90)
    location: str = DEFAULT_LOCATION
    kind: Literal["factory", "team"] = "team"
    storage: StorageSeed = StorageSeed()
    max_vms: int | None = Field(default=None, ge=0)
    allowed_sizes: list[str] | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class IdentitySeed(_Strict):
    """A managed identity; without client_id it is the system-assigned one."""

    name: str = Field(min_length=1)
    principal_id: str
    client_id: str | None = None


class RoleAssignmentSeed(_Strict):
    """A role for an identity at a scope: a lab, a lab's storage account or a resource id."""

    identity: str
    role: str
    lab: str | None = Field(default=None, description="name of a lab in the seed")
    lab_storage: str | None = Field(
        default=None,
        description="name of a lab in the seed; the scope is its storage account",
    )
    scope: str | None = Field(default=None, description="a full resource id")

    @model_validator(mode="after")
    def _one_scope(self) -> RoleAssignmentSeed:
        scopes = (self.lab, self.lab_storage, self.scope)
        if sum(value is not None for value in scopes) != 1:
            raise ValueError("give exactly one of 'lab', 'lab_storage' and 'scope'")
        return self


class RoleDefinitionSeed(_Strict):
    name: str
    actions: list[str] = Field(default_factory=list)
    not_actions: list[str] = Field(default_factory=list)
    data_actions: list[str] = Field(default_factory=list)
    not_data_actions: list[str] = Field(default_factory=list)


class Seed(_Strict):
    subscription_id: str = DEFAULT_SUBSCRIPTION_ID
    tenant_id: str = DEFAULT_TENANT_ID
    labs: list[LabSeed] = Field(min_length=1)
    identities: list[IdentitySeed] | None = None
    role_assignments: list[RoleAssignmentSeed] | None = None
    custom_roles: list[RoleDefinitionSeed] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> Seed:
        names = [lab.name.lower() for lab in self.labs]
        if len(set(names)) != len(names):
            raise ValueError("lab names must be unique")
        if sum(1 for lab in self.labs if lab.kind == "factory") > 1:
            raise ValueError("at most one lab may have kind 'factory'")
        for lab in self.labs:
            prefix = lab.storage.container_prefix
            if prefix is not None and not _CONTAINER_PREFIX.match(prefix):
                raise ValueError(
                    f"storage.container_prefix {prefix!r} of lab {lab.name!r} must be "
                    "3-48 lowercase letters, digits and single hyphens"
                )
        return self

    def effective_identities(self) -> list[IdentitySeed]:
        """Return the identities, or the default system-assigned one."""
        if self.identities is not None:
            return list(self.identities)
        return [IdentitySeed(name="system", principal_id=DEFAULT_PRINCIPAL_ID)]

    def effective_role_assignments(self) -> list[RoleAssignmentSeed]:
        """Return the role assignments, or the default ones for each identity.

        The default gives Contributor on every lab, and Storage Blob Data
        Contributor on every lab's storage account, where the factory deletes
        and lists the VHDs it uploaded. The factory lab receives uploads too:
        the bases of layered images.
        """
        if self.role_assignments is not None:
            return list(self.role_assignments)
        identities = self.effective_identities()
        on_labs = [
            RoleAssignmentSeed(identity=identity.name, role="Contributor", lab=lab.name)
            for identity in identities
            for lab in self.labs
        ]
        on_storage = [
            RoleAssignmentSeed(
                identity=identity.name,
                role="Storage Blob Data Contributor",
                lab_storage=lab.name,
            )
            for identity in identities
            for lab in self.labs
        ]
        return on_labs + on_storage


def default_seed() -> Seed:
    labs = [
        LabSeed(
            name=DEFAULT_FACTORY_LAB,
            resource_group=DEFAULT_RESOURCE_GROUP,
            kind="factory",
        )
    ]
    labs += [
        LabSeed(name=name, resource_group=DEFAULT_RESOURCE_GROUP, kind="team")
        for name in DEFAULT_TEAM_LABS
    ]
    return Seed(labs=labs)


def load_seed(path: Path | None) -> Seed:
    """Read and validate a seed file, or return the default seed for None."""
    if path is None:
        return default_seed()

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SeedError(f"cannot read the seed file {path}: {exc}") from exc

    if not isinstance(document, dict):
        raise SeedError(f"the seed file {path} must contain a mapping at the top level")

    try:
        return Seed.model_validate(document)
    except ValidationError as exc:
        raise SeedError(f"the seed file {path} is invalid: {exc}") from exc


def stable_uuid(*parts: str) -> str:
    """Return a UUID that depends only on parts, so ids survive a restart."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(part.lower() for part in parts)))
