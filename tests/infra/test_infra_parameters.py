"""Checks of infra/main.parameters.json and azure.yaml against main.bicep.

azd reads main.parameters.json, substitutes ``${VAR}`` and ``${VAR=default}`` from the
environment, then runs ``$(command args)`` substitutions, and prompts for any required
parameter still without a value. The tests below replay those steps on the file.
"""

from __future__ import annotations

import json
import re

import yaml
from infra_bicep import MAIN_BICEP, MAIN_PARAMETERS, REPO_ROOT, load, string_value

# Parameters that main.parameters.json leaves out on purpose: azd prompts for them on the
# first `azd up` and keeps the answer in the environment's config.json.
PROMPTED_PARAMS = {"teamLabIds"}

# The environment variables an administrator sets (or azd sets) before `azd up`.
SAMPLE_ENVIRONMENT = {
    "AZURE_ENV_NAME": "factory-prod",
    "AZURE_LOCATION": "westeurope",
    "AZURE_PRINCIPAL_ID": "00000000-0000-0000-0000-000000000001",
    "AZURE_KEY_VAULT_NAME": "kv-abcdefghijklm",
    "FACTORY_CONFIG_REPO": "https://github.com/contoso/golden-images.git",
    "FACTORY_LAB_ID": (
        "/subscriptions/00000000-0000-0000-0000-000000000002/resourceGroups/rg-labs"
        "/providers/Microsoft.DevTestLab/labs/factory"
    ),
    "FACTORY_LAB_VM_RESOURCE_GROUP": "rg-factory-vms",
}

# azd's envsubst syntax: ${NAME}, or ${NAME=default} for a value when NAME is empty.
_ENV_REFERENCE = re.compile(r"\$\{(\w+)(?:=([^}]*))?\}")
# azd's command substitution grammar (cli/azd/pkg/cmdsubst/cmdsubst.go in Azure/azure-dev):
# $( name args ) where args are word characters, whitespace and dashes only.
_COMMAND = re.compile(r"\$\(\s*(\w+)([\w\s-]*)\)")


def _parameters_text() -> str:
    return MAIN_PARAMETERS.read_text(encoding="utf-8")


def _parameter_values() -> dict[str, object]:
    document = json.loads(_parameters_text())
    return {name: entry["value"] for name, entry in document["parameters"].items()}


def _substitute(text: str, environment: dict[str, str]) -> str:
    """Replay azd: environment references first, then command substitutions."""

    def env_value(match: re.Match[str]) -> str:
        return environment.get(match.group(1), "") or (match.group(2) or "")

    def command_value(match: re.Match[str]) -> str:
        assert match.group(1) == "secretOrRandomPassword"
        return "GeneratedSecret123"

    return _COMMAND.sub(command_value, _ENV_REFERENCE.sub(env_value, text))


def test_parameters_file_is_valid_json() -> None:
    document = json.loads(_parameters_text())

    assert document["contentVersion"] == "1.0.0.0"
    assert isinstance(document["parameters"], dict)


def test_parameters_file_names_only_main_bicep_params() -> None:
    main = load(MAIN_BICEP)

    assert set(_parameter_values()) - set(main.params) == set()


def test_parameters_file_covers_required_params() -> None:
    main = load(MAIN_BICEP)
    required = {name for name, param in main.params.items() if not param.has_default}
    left_to_prompt = required - set(_parameter_values())

    assert left_to_prompt == PROMPTED_PARAMS


def test_prompted_params_exist_in_main_bicep() -> None:
    main = load(MAIN_BICEP)

    assert set(main.params) >= PROMPTED_PARAMS


def test_parameters_file_maps_azd_variables() -> None:
    values = _parameter_values()

    assert values["environmentName"] == "${AZURE_ENV_NAME}"
    assert values["location"] == "${AZURE_LOCATION}"
    assert values["principalId"] == "${AZURE_PRINCIPAL_ID}"


def _substituted_values(environment: dict[str, str]) -> dict[str, object]:
    """Return the parameter values after azd's environment substitution only."""
    text = _ENV_REFERENCE.sub(
        lambda m: environment.get(m.group(1), "") or (m.group(2) or ""),
        _parameters_text(),
    )
    return {
        name: entry["value"] for name, entry in json.loads(text)["parameters"].items()
    }


def test_secure_params_use_secret_command() -> None:
    main = load(MAIN_BICEP)
    values = _substituted_values(SAMPLE_ENVIRONMENT)
    secure = [name for name, param in main.params.items() if param.secure]

    assert secure, "expected the webhook secrets to be @secure() params"
    for name in secure:
        match = _COMMAND.fullmatch(str(values[name]))
        assert match is not None, f"{name} must come from $(secretOrRandomPassword ...)"
        assert match.group(1) == "secretOrRandomPassword"


def test_secret_commands_read_the_deployed_vault() -> None:
    keyvault = load(MAIN_BICEP.parent / "modules" / "keyvault.bicep")
    secret_names = {
        string_value(keyvault, name)
        for resource in keyvault.resources_of_type("Microsoft.KeyVault/vaults/secrets")
        for name in keyvault.properties("name", resource.body)
    }
    values = _substituted_values(SAMPLE_ENVIRONMENT)
    commands = [_COMMAND.fullmatch(str(v)) for v in values.values()]
    arguments = [match.group(2).split() for match in commands if match is not None]

    assert arguments, "expected $(secretOrRandomPassword ...) in the parameters file"
    for vault, secret in arguments:
        assert vault == SAMPLE_ENVIRONMENT["AZURE_KEY_VAULT_NAME"]
        assert secret in secret_names


def test_secret_commands_generate_on_first_deployment() -> None:
    # Before the first deployment AZURE_KEY_VAULT_NAME is unset, so azd gets one argument
    # and generates a random value instead of reading the vault.
    first_run = {
        k: v for k, v in SAMPLE_ENVIRONMENT.items() if k != "AZURE_KEY_VAULT_NAME"
    }
    values = _substituted_values(first_run)
    commands = [_COMMAND.fullmatch(str(v)) for v in values.values()]
    arguments = [match.group(2).split() for match in commands if match is not None]

    assert arguments
    assert all(len(args) == 1 for args in arguments)


def test_parameters_substitute_to_valid_values() -> None:
    main = load(MAIN_BICEP)
    substituted = json.loads(_substitute(_parameters_text(), SAMPLE_ENVIRONMENT))
    values = {name: entry["value"] for name, entry in substituted["parameters"].items()}

    assert all(value != "" for value in values.values()), values
    for name, value in values.items():
        if main.params[name].type_name == "int":
            assert str(value).isdigit(), f"{name}={value!r} is not a whole number"


def test_parameters_defaults_match_bicep_defaults() -> None:
    substituted = json.loads(_substitute(_parameters_text(), SAMPLE_ENVIRONMENT))
    values = {name: entry["value"] for name, entry in substituted["parameters"].items()}

    assert values["configRepoBranch"] == "main"
    assert values["configRepoAuth"] == "none"
    assert values["maximumInstanceCount"] == "100"
    assert values["monitorIntervalSeconds"] == "60"


def test_azure_yaml_declares_python_function_service() -> None:
    project = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))

    assert project["infra"]["path"] == "infra"
    assert project["services"]["api"] == {
        "project": ".",
        "language": "python",
        "host": "function",
    }


def test_function_app_tag_matches_azure_yaml_service() -> None:
    project = yaml.safe_load((REPO_ROOT / "azure.yaml").read_text(encoding="utf-8"))
    app_module = load(MAIN_BICEP.parent / "modules" / "function-app.bicep")

    (service,) = project["services"]
    assert app_module.property_texts("azd-service-name") == [f"'{service}'"]


def test_deploy_guide_names_environment_variables() -> None:
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    variables = {name for name, _ in _ENV_REFERENCE.findall(_parameters_text())}

    missing = sorted(name for name in variables if name not in guide)
    assert missing == []
