"""Build settings that factory.yaml sets as defaults and image files may override."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import yaml

from shared.config import limits
from shared.config.fields import (
    FileContext,
    join_field,
    read_choice,
    read_int,
    read_string,
)
from shared.config.model import FactoryDefaults

OVERRIDE_FIELDS = (
    "vm_size",
    "storage_type",
    "versions_to_keep",
    "build_timeout_minutes",
    "refresh_days",
    "max_lifetime_days",
)

VM_SIZE_RE = re.compile(r"(Standard|Basic)_[A-Za-z0-9_-]+")
VM_SIZE_HINT = "Azure VM size names look like 'Standard_D2s_v3'."

_RANGES = {
    "versions_to_keep": limits.VERSIONS_TO_KEEP_RANGE,
    "build_timeout_minutes": limits.BUILD_TIMEOUT_MINUTES_RANGE,
    "refresh_days": limits.REFRESH_DAYS_RANGE,
    "max_lifetime_days": limits.MAX_LIFETIME_DAYS_RANGE,
}


def read_overrides(
    ctx: FileContext, values: dict[str, yaml.Node], parent: str
) -> dict[str, Any]:
    """Return the valid build settings present in a mapping, keyed by field name."""
    overrides: dict[str, Any] = {}
    for name in OVERRIDE_FIELDS:
        if name not in values:
            continue
        value = _read_override(ctx, name, values[name], join_field(parent, name))
        if value is not None:
            overrides[name] = value
    return overrides


def _read_override(ctx: FileContext, name: str, node: yaml.Node, field: str) -> Any:
    if name == "vm_size":
        return read_string(
            ctx,
            node,
            field,
            pattern=VM_SIZE_RE,
            pattern_hint=VM_SIZE_HINT,
            max_length=64,
        )
    if name == "storage_type":
        return read_choice(ctx, node, field, limits.STORAGE_TYPES)
    low, high = _RANGES[name]
    return read_int(ctx, node, field, low, high)


def apply_overrides(
    defaults: FactoryDefaults, overrides: dict[str, Any]
) -> FactoryDefaults:
    return dataclasses.replace(defaults, **overrides)
