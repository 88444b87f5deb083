"""Typed model of a validated configuration repository."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal

from shared.config import limits
from shared.config.issues import ConfigIssue
from shared.config.patterns import pattern_matches
from shared.config.resource_ids import LabRef, parse_resource_id

OsType = Literal["Windows", "Linux"]

# Bump when the hashed content or its encoding changes, so that every image
# gets a new hash (and a rebuild) instead of an accidental match.
CONTENT_HASH_VERSION = 1


@dataclass(frozen=True)
class GalleryImage:
    """A Marketplace image, as DevTest Labs takes it in galleryImageReference."""

    publisher: str
    offer: str
    sku: str
    version: str = "latest"


@dataclass(frozen=True)
class ArtifactRef:
    """An artifact of the DevTest Labs public repository with its parameter values.

    Values are strings, as DevTest Labs takes them: booleans as "true" or
    "false", lists and mappings as compact JSON, everything else as written.
    """

    name: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FactoryDefaults:
    """Settings that apply to every image unless its definition overrides them."""

    vm_size: str = limits.DEFAULT_VM_SIZE
    storage_type: str = limits.DEFAULT_STORAGE_TYPE
    versions_to_keep: int = limits.DEFAULT_VERSIONS_TO_KEEP
    build_timeout_minutes: int = limits.DEFAULT_BUILD_TIMEOUT_MINUTES
    refresh_days: int = limits.DEFAULT_REFRESH_DAYS


@dataclass(frozen=True)
class ImageDefinition:
    """One golden image, with the factory defaults already applied.

    `name` is the file's path below images/ without ".yaml", such as
    "windows/vs2022"; `file` is the repository-relative path of its file.
    """

    name: str
    file: str
    description: str
    os_type: OsType
    base: GalleryImage
    vm_size: str
    storage_type: str
    artifacts: list[ArtifactRef]
    versions_to_keep: int
    build_timeout_minutes: int
    refresh_days: int

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-")

    def content_hash(self) -> str:
        """Return the sha256 hex digest of what determines the image's bytes.

        Covers the OS type, the base image and the artifacts in order with
        their parameters. Leaves out the description, VM size, storage type,
        retention and timings, because changing those needs no rebuild.
        """
        content = {
            "version": CONTENT_HASH_VERSION,
            "os_type": self.os_type,
            "base": {
                "publisher": self.base.publisher,
                "offer": self.base.offer,
                "sku": self.base.sku,
                "version": self.base.version,
            },
            "artifacts": [
                {"name": artifact.name, "parameters": artifact.parameters}
                for artifact in self.artifacts
            ],
        }
        canonical = json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def custom_image_name(self, content_hash: str) -> str:
        """Return the DevTest Labs custom image name of one version of this image."""
        prefix = content_hash[: limits.CUSTOM_IMAGE_HASH_CHARS]
        if len(prefix) < limits.CUSTOM_IMAGE_HASH_CHARS:
            raise ValueError(
                f"content hash '{content_hash}' is shorter than "
                f"{limits.CUSTOM_IMAGE_HASH_CHARS} characters. "
                "Pass the value of content_hash()."
            )
        return f"{self.slug}-{prefix}"


@dataclass(frozen=True)
class TeamLab:
    """A team lab and the image name patterns it subscribes to."""

    name: str
    lab_id: str
    include: list[str]
    exclude: list[str] = field(default_factory=list)
    versions_to_keep: int | None = None

    @property
    def lab(self) -> LabRef:
        return parse_resource_id(self.lab_id)

    def matches(self, image_name: str) -> bool:
        """Return whether an include pattern matches the image and no exclude does."""
        if any(pattern_matches(pattern, image_name) for pattern in self.exclude):
            return False
        return any(pattern_matches(pattern, image_name) for pattern in self.include)


@dataclass(frozen=True)
class FactoryConfig:
    """A validated configuration repository.

    `images` is keyed by image name and sorted by it. `warnings` lists the
    problems that do not stop a run, such as a pattern that matches no image.
    """

    factory_lab_id: str
    defaults: FactoryDefaults
    images: dict[str, ImageDefinition]
    labs: list[TeamLab]
    warnings: list[ConfigIssue] = field(default_factory=list)

    @property
    def factory_lab(self) -> LabRef:
        return parse_resource_id(self.factory_lab_id)

    def subscribers(self, image_name: str) -> list[TeamLab]:
        """Return the team labs that receive an image, in labs.yaml order."""
        return [lab for lab in self.labs if lab.matches(image_name)]

    def images_for(self, lab: TeamLab) -> list[ImageDefinition]:
        """Return the images a team lab receives, sorted by name."""
        return [image for name, image in self.images.items() if lab.matches(name)]

    def lab_named(self, name: str) -> TeamLab | None:
        return next((lab for lab in self.labs if lab.name == name), None)

    def versions_to_keep_in(self, lab: TeamLab, image: ImageDefinition) -> int:
        """Return how many versions of an image a lab keeps.

        The lab's versions_to_keep wins over the image's.
        """
        if lab.versions_to_keep is not None:
            return lab.versions_to_keep
        return image.versions_to_keep
