"""Read the artifact list of an image definition and check it against a catalog."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, cast

import yaml

from shared.config.catalog import ArtifactCatalog, ArtifactSpec, ParameterSpec
from shared.config.fields import (
    FileContext,
    index_field,
    join_field,
    read_mapping,
    read_string,
)
from shared.config.issues import close_match, did_you_mean
from shared.config.limits import GENERALIZE_ARTIFACTS
from shared.config.model import ArtifactRef
from shared.config.yamlnodes import describe_node, is_null, read_scalar

_ARTIFACT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_INT_TEXT_RE = re.compile(r"[-+]?[0-9]+")


@dataclass(frozen=True)
class _ParameterValue:
    text: str
    key_node: yaml.Node
    value_node: yaml.Node


def read_artifacts(
    ctx: FileContext,
    node: yaml.Node,
    field: str,
    os_type: str | None,
    catalog: ArtifactCatalog | None,
) -> list[ArtifactRef]:
    """Return the valid artifacts of an image in order, reporting the invalid ones."""
    if is_null(node):
        return []
    if not isinstance(node, yaml.SequenceNode):
        ctx.error(
            node,
            field,
            f"expected a list of artifacts, got {describe_node(node)}. "
            "Write one '- name: <artifact>' entry per artifact.",
        )
        return []

    artifacts = []
    for index, item in enumerate(node.value):
        artifact = _read_artifact(
            ctx, item, index_field(field, index), os_type, catalog
        )
        if artifact is not None:
            artifacts.append(artifact)
    return artifacts


def _read_artifact(
    ctx: FileContext,
    node: yaml.Node,
    field: str,
    os_type: str | None,
    catalog: ArtifactCatalog | None,
) -> ArtifactRef | None:
    name_node: yaml.Node
    if isinstance(node, yaml.ScalarNode):
        name_node, parameters_node = node, None
    else:
        values = read_mapping(ctx, node, field, ("name", "parameters"), ("name",))
        if values is None or "name" not in values:
            return None
        name_node, parameters_node = values["name"], values.get("parameters")

    name_field = join_field(field, "name") if name_node is not node else field
    name = _read_artifact_name(ctx, name_node, name_field)
    parameters_field = join_field(field, "parameters")
    parameters = _read_parameters(ctx, parameters_node, parameters_field)
    if name is None or parameters is None:
        return None

    if catalog is not None:
        spec = catalog.get(name)
        if spec is None:
            ctx.error(
                name_node,
                name_field,
                f"unknown artifact '{name}'.{did_you_mean(name, catalog.names())} "
                "Use the name of an artifact in the lab's artifact repository.",
            )
        else:
            _check_os_type(ctx, spec, os_type, name_node, name_field)
            _check_parameters(ctx, spec, parameters, node, parameters_field)

    return ArtifactRef(name, {key: value.text for key, value in parameters.items()})


def _read_artifact_name(ctx: FileContext, node: yaml.Node, field: str) -> str | None:
    name = read_string(
        ctx,
        node,
        field,
        pattern=_ARTIFACT_NAME_RE,
        pattern_hint=(
            "Artifact names have up to 100 letters, digits, '-', '_' or '.', "
            "such as 'windows-chocolatey'."
        ),
    )
    if name is None:
        return None
    generalize = {artifact.lower() for artifact in GENERALIZE_ARTIFACTS.values()}
    if name.lower() in generalize:
        ctx.error(
            node,
            field,
            f"artifact '{name}' generalizes the VM, and the factory appends it "
            "itself as the last step of every build. Remove this entry.",
        )
        return None
    return name


def _read_parameters(
    ctx: FileContext, node: yaml.Node | None, field: str
) -> dict[str, _ParameterValue] | None:
    if node is None or is_null(node):
        return {}
    if not isinstance(node, yaml.MappingNode):
        ctx.error(
            node,
            field,
            "expected a mapping of parameter names to values, "
            f"got {describe_node(node)}. Write one 'name: value' line per parameter.",
        )
        return None

    values = read_mapping(ctx, node, field, [_key_text(key) for key, _ in node.value])
    if values is None:
        return None
    keys: dict[str, yaml.Node] = {}
    for key, _ in node.value:
        keys.setdefault(_key_text(key), key)
    return {
        name: _ParameterValue(parameter_text(value), keys[name], value)
        for name, value in values.items()
    }


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def parameter_text(node: yaml.Node) -> str:
    """Return a parameter value as the string DevTest Labs takes.

    Booleans become "true" or "false", an empty value "", lists and
    mappings compact JSON (mapping keys sorted), and other scalars their
    text as written, so "007" stays "007".
    """
    if isinstance(node, yaml.ScalarNode):
        scalar = read_scalar(node)
        if scalar.kind == "bool":
            return "true" if scalar.value else "false"
        if scalar.kind == "null":
            return ""
        return scalar.text
    return json.dumps(_to_json_value(node), separators=(",", ":"), sort_keys=True)


def _to_json_value(node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return [_to_json_value(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        return {_key_text(key): _to_json_value(value) for key, value in node.value}
    scalar = read_scalar(cast(yaml.ScalarNode, node))
    if scalar.kind == "str":
        return scalar.text
    if scalar.kind == "float" and not math.isfinite(scalar.value):
        return scalar.text
    return scalar.value


def _check_os_type(
    ctx: FileContext,
    spec: ArtifactSpec,
    os_type: str | None,
    node: yaml.Node,
    field: str,
) -> None:
    target = spec.target_os_type
    if os_type is None or target is None or target.lower() == os_type.lower():
        return
    ctx.error(
        node,
        field,
        f"artifact '{spec.name}' targets {target}, but the image's os_type is "
        f"{os_type}. Use a {os_type} artifact.",
    )


def _check_parameters(
    ctx: FileContext,
    spec: ArtifactSpec,
    parameters: dict[str, _ParameterValue],
    artifact_node: yaml.Node,
    field: str,
) -> None:
    # A required parameter that an unknown one resembles is reported once, as a typo.
    suggested = set()
    for name, value in parameters.items():
        parameter_field = join_field(field, name)
        parameter = spec.parameters.get(name)
        if parameter is None:
            suggested.add(close_match(name, spec.parameters))
            known = ", ".join(spec.parameters) or "none"
            ctx.error(
                value.key_node,
                parameter_field,
                f"artifact '{spec.name}' has no parameter '{name}'."
                f"{did_you_mean(name, spec.parameters)} Its parameters: {known}.",
            )
            continue
        _check_value(ctx, spec.name, parameter, value, parameter_field)

    for name, parameter in spec.parameters.items():
        if parameter.required and name not in parameters and name not in suggested:
            ctx.error(
                artifact_node,
                join_field(field, name),
                f"artifact '{spec.name}' requires parameter '{name}' "
                f"({parameter.type}). Add it under parameters.",
            )


def _check_value(
    ctx: FileContext,
    artifact: str,
    parameter: ParameterSpec,
    value: _ParameterValue,
    field: str,
) -> None:
    node, text = value.value_node, value.text
    if text == "":
        if not parameter.allow_empty:
            ctx.error(
                node,
                field,
                f"parameter '{parameter.name}' of artifact '{artifact}' must not be "
                "empty. Set a value or remove the parameter to use its default.",
            )
        return

    problem = _type_problem(parameter, node, text)
    if problem is None:
        problem = _allowed_value_problem(parameter, text)
    if problem is not None:
        ctx.error(node, field, problem)
        return
    if parameter.type == "securestring":
        ctx.warning(
            node,
            field,
            f"parameter '{parameter.name}' is a securestring, and a value in this "
            "repository is readable by everyone with read access to it. "
            "Keep secrets out of the configuration repository.",
        )


def _type_problem(parameter: ParameterSpec, node: yaml.Node, text: str) -> str | None:
    kind = parameter.type
    quoted = f"'{text}'" if len(text) <= 80 else f"'{text[:77]}...'"
    if kind in ("string", "securestring"):
        if not isinstance(node, yaml.ScalarNode):
            return (
                f"expected text, got {describe_node(node)}. "
                "Write the value as one string."
            )
        return _length_problem(parameter, text)
    if kind == "int" and not _INT_TEXT_RE.fullmatch(text):
        return f"expected a whole number, got {quoted}."
    if kind == "bool" and text.lower() not in ("true", "false"):
        return f"expected true or false, got {quoted}."
    if kind == "array" and not isinstance(_json_or_none(text), list):
        return (
            f"expected a list, got {quoted}. Write it as a YAML list or a JSON array."
        )
    if kind == "object" and not isinstance(_json_or_none(text), dict):
        return (
            f"expected a mapping, got {quoted}. "
            "Write it as a YAML mapping or a JSON object."
        )
    return None


def _length_problem(parameter: ParameterSpec, text: str) -> str | None:
    if parameter.min_length is not None and len(text) < parameter.min_length:
        return (
            f"value is {len(text)} characters long, shorter than the minimum "
            f"of {parameter.min_length}. Use a longer value."
        )
    if parameter.max_length is not None and len(text) > parameter.max_length:
        return (
            f"value is {len(text)} characters long, longer than the maximum "
            f"of {parameter.max_length}. Use a shorter value."
        )
    return None


def _allowed_value_problem(parameter: ParameterSpec, text: str) -> str | None:
    allowed = parameter.allowed_values
    if allowed is None or text in allowed:
        return None
    if parameter.type == "bool" and text.lower() in allowed:
        return None
    same_letters = [value for value in allowed if value.lower() == text.lower()]
    hint = (
        f" Did you mean '{same_letters[0]}'?"
        if same_letters
        else did_you_mean(text, allowed)
    )
    listed = ", ".join(f"'{value}'" for value in allowed[:20])
    more = f" and {len(allowed) - 20} more" if len(allowed) > 20 else ""
    return f"'{text}' is not an allowed value.{hint} Allowed values: {listed}{more}."


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
