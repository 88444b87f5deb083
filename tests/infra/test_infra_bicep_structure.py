"""Structural checks of the Bicep files: syntax, declarations and module wiring.

These stand in for the parts of ``bicep build`` that can run without the Bicep CLI.
"""

from __future__ import annotations

import re

import pytest
from infra_bicep import BicepFile, ModuleCall, bicep_files, load

FILES = bicep_files()
FILE_IDS = [f.relative for f in FILES]
MODULE_CALLS = [(f, call) for f in FILES for call in f.modules]
MODULE_CALL_IDS = [f"{f.relative}:{call.symbol}" for f, call in MODULE_CALLS]


def test_infra_has_main_and_modules() -> None:
    names = {f.relative for f in FILES}

    assert "infra/main.bicep" in names
    assert len(names) > 1, "expected modules under infra/modules"


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_bicep_file_parses_without_errors(bicep: BicepFile) -> None:
    assert bicep.syntax_errors() == []


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_bicep_params_are_all_used(bicep: BicepFile) -> None:
    references = bicep.references()
    unused = [name for name in bicep.params if references[name] == 0]

    assert unused == [], f"{bicep.relative} declares params it never uses"


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_bicep_variables_are_all_used(bicep: BicepFile) -> None:
    references = bicep.references()
    unused = [name for name in bicep.variables if references[name] == 0]

    assert unused == [], f"{bicep.relative} declares variables it never uses"


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_bicep_params_have_descriptions(bicep: BicepFile) -> None:
    # `azd up` shows the description when it prompts for a value.
    undescribed = [p.name for p in bicep.params.values() if not p.description.strip()]

    assert undescribed == []


@pytest.mark.parametrize(("bicep", "call"), MODULE_CALLS, ids=MODULE_CALL_IDS)
def test_module_call_targets_existing_file(bicep: BicepFile, call: ModuleCall) -> None:
    assert call.path.is_file(), f"{bicep.relative}:{call.line} deploys a missing file"


@pytest.mark.parametrize(("bicep", "call"), MODULE_CALLS, ids=MODULE_CALL_IDS)
def test_module_call_passes_only_declared_params(
    bicep: BicepFile, call: ModuleCall
) -> None:
    module = load(call.path)
    unknown = set(call.params) - set(module.params)

    assert unknown == set(), f"{call.symbol} passes params that {call.path.name} lacks"


@pytest.mark.parametrize(("bicep", "call"), MODULE_CALLS, ids=MODULE_CALL_IDS)
def test_module_call_passes_every_required_param(
    bicep: BicepFile, call: ModuleCall
) -> None:
    module = load(call.path)
    required = {name for name, param in module.params.items() if not param.has_default}

    assert required - set(call.params) == set(), f"{call.symbol} misses required params"


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_module_outputs_used_are_declared(bicep: BicepFile) -> None:
    modules = {call.symbol: load(call.path) for call in bicep.modules}
    code = bicep.code_without_strings()
    # Interpolations stay in the blanked code, so `${kv.outputs.x}` is found as well.
    used = re.findall(r"\b(\w+)\.outputs\.(\w+)", code)
    missing = [
        f"{symbol}.outputs.{name}"
        for symbol, name in used
        if symbol in modules and name not in modules[symbol].outputs
    ]

    assert missing == []


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_resources_pin_a_dated_api_version(bicep: BicepFile) -> None:
    undated = [
        f"{r.symbol} ({r.type_name}@{r.api_version})"
        for r in bicep.resources
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", r.api_version)
    ]

    assert undated == []


def test_main_bicep_targets_subscription() -> None:
    main = FILES[0]
    target = re.search(
        r"^targetScope\s*=\s*'(\w+)'", main.source.decode(), re.MULTILINE
    )

    assert target is not None
    assert target.group(1) == "subscription"


def test_resource_group_is_tagged_with_azd_env_name() -> None:
    main = FILES[0]
    groups = main.resources_of_type("Microsoft.Resources/resourceGroups")

    assert len(groups) == 1
    tags = main.variables["tags"]
    assert main.property_texts("azd-env-name", tags) == ["environmentName"]
    assert main.property_texts("tags", groups[0].body) == ["tags"]
