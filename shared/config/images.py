"""Read one image definition file (images/**/<name>.yaml)."""

from __future__ import annotations

import re
from typing import cast

import yaml

from shared.config import limits
from shared.config.artifacts import read_artifacts
from shared.config.catalog import ArtifactCatalog
from shared.config.fields import (
    FileContext,
    join_field,
    read_choice,
    read_mapping,
    read_string,
)
from shared.config.model import (
    FactoryDefaults,
    GalleryImage,
    ImageDefinition,
    OsType,
    ParentImage,
)
from shared.config.overrides import OVERRIDE_FIELDS, apply_overrides, read_overrides

IMAGE_FIELDS = ("description", "os_type", "base", "artifacts", *OVERRIDE_FIELDS)
BASE_KINDS = ("gallery", "image")
GALLERY_FIELDS = ("publisher", "offer", "sku", "version")

# Image names: "/"-separated segments of lowercase letters, digits, "-" and
# "_", each starting with a letter or digit.
IMAGE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*")

_GALLERY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_GALLERY_NAME_HINT = "Marketplace names have letters, digits, '.', '_' and '-'."
_GALLERY_VERSION_RE = re.compile(r"latest|[0-9]+\.[0-9]+\.[0-9]+")
_GALLERY_VERSION_HINT = "Use 'latest' or a version such as '20348.2849.241208'."


def image_name_problem(name: str) -> str | None:
    """Return why an image name is invalid, or None when it is valid."""
    if not IMAGE_NAME_RE.fullmatch(name):
        return (
            f"invalid image name '{name}'. Image names are '/'-separated folders and a "
            "file name of lowercase letters, digits, '-' and '_', each starting with "
            "a letter or digit. Rename the file."
        )
    if len(name) > limits.MAX_IMAGE_NAME:
        return (
            f"image name '{name}' is {len(name)} characters long. Use at most "
            f"{limits.MAX_IMAGE_NAME}, so that its DevTest Labs custom image names "
            f"fit in {limits.MAX_CUSTOM_IMAGE_NAME} characters. Shorten the path."
        )
    return None


def read_image(
    ctx: FileContext,
    name: str,
    root: yaml.Node | None,
    defaults: FactoryDefaults,
    catalog: ArtifactCatalog | None,
    parent_nodes: dict[str, yaml.Node] | None = None,
) -> ImageDefinition | None:
    """Validate an image file's node tree. Returns None when it has errors.

    For an image built on another image, stores the node of `base.image` in
    `parent_nodes` under the image's name, so that the checks across images
    can point at it.
    """
    if root is None:
        ctx.error(
            None,
            "",
            "file is empty. Set at least os_type and base "
            "(see the configuration reference).",
        )
        return None
    values = read_mapping(ctx, root, "", IMAGE_FIELDS, ("os_type", "base"))
    if values is None:
        return None
    errors_before = ctx.issues.error_count

    os_type = None
    if "os_type" in values:
        os_type = read_choice(ctx, values["os_type"], "os_type", limits.OS_TYPES)
    base, parent_node = None, None
    if "base" in values:
        base, parent_node = _read_base(ctx, values["base"])
    if parent_node is not None and parent_nodes is not None:
        parent_nodes[name] = parent_node
    description: str | None = ""
    if "description" in values:
        description = read_string(
            ctx, values["description"], "description", allow_empty=True
        )
    settings = apply_overrides(defaults, read_overrides(ctx, values, ""))
    _check_lifetime(ctx, values, settings)
    artifacts = []
    if "artifacts" in values:
        artifacts = read_artifacts(
            ctx, values["artifacts"], "artifacts", os_type, catalog
        )

    if ctx.issues.error_count > errors_before or os_type is None or base is None:
        return None
    return ImageDefinition(
        name=name,
        file=ctx.file,
        description=description or "",
        os_type=cast(OsType, os_type),
        base=base,
        vm_size=settings.vm_size,
        storage_type=settings.storage_type,
        artifacts=artifacts,
        versions_to_keep=settings.versions_to_keep,
        build_timeout_minutes=settings.build_timeout_minutes,
        refresh_days=settings.refresh_days,
        max_lifetime_days=settings.max_lifetime_days,
    )


def _read_base(
    ctx: FileContext, node: yaml.Node
) -> tuple[GalleryImage | ParentImage | None, yaml.Node | None]:
    """Return the base image and, for a parent image, the node that names it."""
    values = read_mapping(ctx, node, "base", BASE_KINDS)
    if values is None:
        return None, None
    if not values:
        # Unknown keys are reported already, with a suggestion.
        if isinstance(node, yaml.MappingNode) and not node.value:
            ctx.error(
                node,
                "base",
                "base names no image. Set 'gallery:' to a Marketplace image or "
                "'image:' to another image of this repository.",
            )
        return None, None
    if len(values) > 1:
        ctx.error(
            values["image"],
            "base.image",
            "base sets both 'gallery' and 'image', but an image starts from one "
            "base. Keep one of them.",
        )
        return None, None
    if "image" in values:
        return _read_parent(ctx, values["image"]), values["image"]
    return _read_gallery(ctx, values["gallery"]), None


def _read_parent(ctx: FileContext, node: yaml.Node) -> ParentImage | None:
    name = read_string(ctx, node, "base.image")
    if name is None:
        return None
    if not IMAGE_NAME_RE.fullmatch(name):
        ctx.error(
            node,
            "base.image",
            f"invalid image name '{name}'. Name another image of this repository by "
            "its path below images/ without '.yaml', such as 'windows/base'.",
        )
        return None
    return ParentImage(name)


def _read_gallery(ctx: FileContext, node: yaml.Node) -> GalleryImage | None:
    field = "base.gallery"
    gallery = read_mapping(
        ctx, node, field, GALLERY_FIELDS, ("publisher", "offer", "sku")
    )
    if gallery is None:
        return None
    parts: dict[str, str | None] = {}
    for key in ("publisher", "offer", "sku"):
        if key in gallery:
            parts[key] = read_string(
                ctx,
                gallery[key],
                join_field(field, key),
                pattern=_GALLERY_NAME_RE,
                pattern_hint=_GALLERY_NAME_HINT,
            )
    version: str | None = "latest"
    if "version" in gallery:
        version = read_string(
            ctx,
            gallery["version"],
            join_field(field, "version"),
            pattern=_GALLERY_VERSION_RE,
            pattern_hint=_GALLERY_VERSION_HINT,
        )

    publisher, offer, sku = parts.get("publisher"), parts.get("offer"), parts.get("sku")
    if publisher is None or offer is None or sku is None or version is None:
        return None
    return GalleryImage(publisher, offer, sku, version)


def _check_lifetime(
    ctx: FileContext, values: dict[str, yaml.Node], settings: FactoryDefaults
) -> None:
    """Report a maximum lifetime that ends before the scheduled refresh replaces a version."""
    lifetime = settings.max_lifetime_days
    if lifetime is None or lifetime > settings.refresh_days:
        return
    field = "max_lifetime_days" if "max_lifetime_days" in values else "refresh_days"
    ctx.error(
        values.get(field),
        field,
        f"max_lifetime_days ({lifetime}) is not longer than refresh_days "
        f"({settings.refresh_days}), so versions would expire before the scheduled "
        "refresh replaces them and team labs would lose the image. Make "
        "max_lifetime_days longer than refresh_days.",
    )
