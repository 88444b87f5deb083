"""Read factory.yaml: the factory lab and the default build settings."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from shared.config.fields import FileContext, read_mapping, read_string
from shared.config.model import FactoryDefaults
from shared.config.overrides import OVERRIDE_FIELDS, apply_overrides, read_overrides
from shared.config.resource_ids import LabRef, parse_resource_id
from shared.config.yamlnodes import is_null


@dataclass(frozen=True)
class FactorySettings:
    """The content of factory.yaml; `lab` is None when it is missing or invalid."""

    lab: LabRef | None
    defaults: FactoryDefaults


def read_factory(ctx: FileContext, root: yaml.Node | None) -> FactorySettings:
    if root is None:
        ctx.error(
            None,
            "factory",
            "file is empty. Set 'factory: {lab: <resource id of the factory lab>}'.",
        )
        return FactorySettings(None, FactoryDefaults())
    values = read_mapping(ctx, root, "", ("factory", "defaults"), ("factory",))
    if values is None:
        return FactorySettings(None, FactoryDefaults())

    lab = None
    if "factory" in values:
        factory = read_mapping(ctx, values["factory"], "factory", ("lab",), ("lab",))
        if factory is not None and "lab" in factory:
            lab = read_lab_id(ctx, factory["lab"], "factory.lab")

    defaults = FactoryDefaults()
    node = values.get("defaults")
    if node is not None and not is_null(node):
        settings = read_mapping(ctx, node, "defaults", OVERRIDE_FIELDS)
        if settings is not None:
            defaults = apply_overrides(
                defaults, read_overrides(ctx, settings, "defaults")
            )
    return FactorySettings(lab, defaults)


def read_lab_id(ctx: FileContext, node: yaml.Node, field: str) -> LabRef | None:
    """Return the lab a resource id names, or None after reporting why it is invalid."""
    text = read_string(ctx, node, field)
    if text is None:
        return None
    try:
        return parse_resource_id(text)
    except ValueError as exc:
        ctx.error(node, field, str(exc))
        return None
