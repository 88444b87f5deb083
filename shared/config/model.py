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
class ParentImage:
    """Another golden image of the same repository that an image is built on."""

    name: str


@dataclass(frozen=True)
class ResolvedParent:
    """The version of a parent image that a layered image is built from."""

    name: str
    version: str
    content_hash: str


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
    max_lifetime_days: int | None = limits.DEFAULT_MAX_LIFETIME_DAYS


@dataclass(frozen=True)
class ImageDefinition:
    """One golden image, with the factory defaults already applied.

    `name` is the file's path below images/ without ".yaml", such as
    "windows/vs2022"; `file` is the repository-relative path of its file.
    `base` is a Marketplace image or, for a layered image, another image of
    the repository. `max_lifetime_days` is None when versions never expire.
    """

    name: str
    file: str
    description: str
    os_type: OsType
    base: GalleryImage | ParentImage
    vm_size: str
    storage_type: str
    artifacts: list[ArtifactRef]
    versions_to_keep: int
    build_timeout_minutes: int
    refresh_days: int
    max_lifetime_days: int | None = None

    @property
    def slug(self) -> str:
        return self.name.replace("/", "-")

    @property
    def parent(self) -> str | None:
        """Return the name of the image this one is built on, or None."""
        return self.base.name if isinstance(self.base, ParentImage) else None

    def content_hash(self, parent: ResolvedParent | None = None) -> str:
        """Return the sha256 hex digest of what determines the image's bytes.

        Covers the OS type, the base image and the artifacts in order with
        their parameters. Leaves out the description, VM size, storage type,
        retention and timings, because changing those needs no rebuild.

        For a layered image the base is the parent's resolved version (its
        version label and content hash), so every new version of the parent
        changes the hash. Without `parent`, a layered image's hash covers
        only the parent's name and matches no version the factory built.
        Raises ValueError when `parent` is given for an image built on a
        gallery image, or names another image than its base.
        """
        content = {
            "version": CONTENT_HASH_VERSION,
            "os_type": self.os_type,
            "base": self._hashed_base(parent),
            "artifacts": [
                {"name": artifact.name, "parameters": artifact.parameters}
                for artifact in self.artifacts
            ],
        }
        canonical = json.dumps(
            content, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        )
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def _hashed_base(self, parent: ResolvedParent | None) -> dict[str, str]:
        base = self.base
        if isinstance(base, GalleryImage):
            if parent is not None:
                raise ValueError(
                    f"image '{self.name}' is built on a gallery image, not on "
                    f"'{parent.name}'. Pass no parent."
                )
            return {
                "publisher": base.publisher,
                "offer": base.offer,
                "sku": base.sku,
                "version": base.version,
            }
        if parent is not None and parent.name != base.name:
            raise ValueError(
                f"image '{self.name}' is built on '{base.name}', not on "
                f"'{parent.name}'. Pass the resolved version of '{base.name}'."
            )
        return {
            "image": base.name,
            "image_version": parent.version if parent else "",
            "image_content_hash": parent.content_hash if parent else "",
        }

    def custom_image_name(self, version: str) -> str:
        """Return the DevTest Labs custom image name of one version of this image."""
        return custom_image_name(self.name, version)


def custom_image_name(image: str, version: str) -> str:
    """Name a version's custom image, e.g. ``linux-ubuntu-20261204-153000``.

    The name fits the 80 characters DevTest Labs allows for every valid
    image name and version label.
    """
    return f"{image.replace('/', '-')}-{version.replace('.', '-')}"


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

    def build_order(self) -> list[str]:
        """Return the image names sorted so that every image follows its parent.

        Images without a parent relation keep their name order. The
        configuration is validated free of cycles.
        """
        ordered: list[str] = []
        placed: set[str] = set()

        def place(name: str) -> None:
            if name in placed:
                return
            placed.add(name)
            parent = self.images[name].parent
            if parent is not None and parent in self.images:
                place(parent)
            ordered.append(name)

        for name in self.images:
            place(name)
        return ordered

    def children(self, name: str) -> list[str]:
        """Return the images built directly on an image, sorted by name."""
        return [child for child, image in self.images.items() if image.parent == name]

    def lab_named(self, name: str) -> TeamLab | None:
        return next((lab for lab in self.labs if lab.name == name), None)

    def versions_to_keep_in(self, lab: TeamLab, image: ImageDefinition) -> int:
        """Return how many versions of an image a lab keeps.

        The lab's versions_to_keep wins over the image's.
        """
        if lab.versions_to_keep is not None:
            return lab.versions_to_keep
        return image.versions_to_keep
