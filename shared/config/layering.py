"""Checks across images built on other images: parents exist, match and form no cycle."""

from __future__ import annotations

import yaml

from shared.config import limits
from shared.config.issues import IssueCollector, did_you_mean
from shared.config.model import ImageDefinition

FIELD = "base.image"


def check_layering(
    images: dict[str, ImageDefinition],
    image_names: list[str],
    parent_nodes: dict[str, yaml.Node],
    issues: IssueCollector,
) -> None:
    """Report unknown parents, OS type mismatches, cycles and chains that are too long.

    `images` contains the valid images, `image_names` the names of every image
    file found (valid or not), and `parent_nodes` the `base.image` node of
    each layered image. An image whose parent file has errors of its own is
    not checked further.
    """
    for name, image in sorted(images.items()):
        parent = image.parent
        if parent is None:
            continue
        node = parent_nodes.get(name)
        if parent == name:
            issues.error(
                image.file,
                node,
                FIELD,
                f"image '{name}' is built on itself. Build it on a gallery image "
                "or on another image.",
            )
        elif parent not in image_names:
            issues.error(
                image.file,
                node,
                FIELD,
                f"image '{parent}' not found.{did_you_mean(parent, image_names)} "
                "Name another image of this repository by its path below images/ "
                "without '.yaml'.",
            )
        elif parent in images and images[parent].os_type != image.os_type:
            issues.error(
                image.file,
                node,
                FIELD,
                f"image '{parent}' is a {images[parent].os_type} image, but "
                f"'{name}' has os_type {image.os_type}. Build it on a "
                f"{image.os_type} image.",
            )
    _check_chains(images, parent_nodes, issues)


def _check_chains(
    images: dict[str, ImageDefinition],
    parent_nodes: dict[str, yaml.Node],
    issues: IssueCollector,
) -> None:
    """Report each cycle once, and every image whose chain of parents is too long."""
    reported_cycles: set[frozenset[str]] = set()
    for name in sorted(images):
        chain = _chain_of(name, images)
        if chain[-1] in chain[:-1]:
            cycle = chain[chain.index(chain[-1]) :]
            members = frozenset(cycle)
            if members in reported_cycles or len(cycle) < 3:
                # A cycle of one image is reported as "built on itself".
                continue
            reported_cycles.add(members)
            first = min(cycle[:-1])
            start = cycle.index(first)
            path = cycle[start:-1] + cycle[:start] + [first]
            issues.error(
                images[first].file,
                parent_nodes.get(first),
                FIELD,
                "images are built on each other in a cycle: "
                f"{' -> '.join(path)}. Build one of them on a gallery image.",
            )
        elif len(chain) > limits.MAX_LAYER_DEPTH and chain[-1] in images:
            issues.error(
                images[name].file,
                parent_nodes.get(name),
                FIELD,
                f"image '{name}' is the end of a chain of {len(chain)} images built "
                f"on each other ({' -> '.join(chain)}), and a chain holds at most "
                f"{limits.MAX_LAYER_DEPTH}. Build it on an image nearer the start "
                "of the chain.",
            )


def _chain_of(name: str, images: dict[str, ImageDefinition]) -> list[str]:
    """Return [name, its parent, the parent's parent, ...].

    Stops at a gallery-based image, at an image that is not valid, or at the
    first repeated name, which then ends the list and marks a cycle.
    """
    chain = [name]
    current = images[name].parent
    while current is not None:
        chain.append(current)
        if current in chain[:-1] or current not in images:
            break
        current = images[current].parent
    return chain
