"""Security and platform checks of the Bicep: no keys, hardened resources, app settings."""

from __future__ import annotations

import re

import pytest
from infra_bicep import MAIN_BICEP, BicepFile, bicep_files, load, object_properties
from tree_sitter import Node

FILES = bicep_files()
FILE_IDS = [f.relative for f in FILES]
MODULES = MAIN_BICEP.parent / "modules"

# Every app setting the app reads in Azure.
REQUIRED_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AZURE_CLIENT_ID",
    "FACTORY_CONFIG_REPO",
    "FACTORY_CONFIG_BRANCH",
    "FACTORY_CONFIG_REPO_TOKEN",
    "FACTORY_GITHUB_WEBHOOK_SECRET",
    "FACTORY_ADO_WEBHOOK_SECRET",
    "FACTORY_ARM_ENDPOINT",
    "FACTORY_IMAGE_STORE_CONTAINER",
    "FACTORY_MONITOR_INTERVAL_SECONDS",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
# Settings that would bring back a key or that Flex Consumption does not accept.
FORBIDDEN_SETTINGS = {
    "AzureWebJobsStorage",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_RUN_FROM_PACKAGE",
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "APPINSIGHTS_INSTRUMENTATIONKEY",
}
KEY_VAULT_REFERENCE = "'@Microsoft.KeyVault(SecretUri=${"
# Substrings of connection strings and SAS tokens built from account keys.
KEY_MATERIAL = (
    "AccountKey=",
    "SharedAccessKey",
    "InstrumentationKey=",
    "DefaultEndpoints",
    "sig=",
)


def _app_settings() -> dict[str, str]:
    """Return every app setting the templates set, as ``name -> value expression``."""
    app = load(MODULES / "function-app.bicep")
    main = load(MAIN_BICEP)
    call = main.module("function-app.bicep")
    settings = {
        name: app.text(value)
        for name, value in object_properties(app.variables["platformSettings"])
    }
    for param in ("appSettings", "optionalAppSettings"):
        settings.update(
            (name, main.text(value))
            for name, value in object_properties(call.params[param])
        )
    return settings


def _single(bicep: BicepFile, key: str, within: Node | None = None) -> str:
    values = bicep.property_texts(key, within)
    assert len(values) == 1, f"expected one {key} in {bicep.relative}, found {values}"
    return values[0]


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_bicep_calls_no_list_function(bicep: BicepFile) -> None:
    # listKeys(), listConnectionStrings(), listAccountSas() and friends return key material.
    calls = re.findall(r"\blist\w*\s*\(", bicep.code_without_strings(), re.IGNORECASE)

    assert calls == []


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_bicep_strings_hold_no_key_material(bicep: BicepFile) -> None:
    found = [
        (literal, marker)
        for literal in bicep.string_literals()
        for marker in KEY_MATERIAL
        if marker.lower() in literal.lower()
    ]

    assert found == []


@pytest.mark.parametrize("bicep", FILES, ids=FILE_IDS)
def test_outputs_carry_no_secrets(bicep: BicepFile) -> None:
    secure_params = {name for name, param in bicep.params.items() if param.secure}
    for name, value in bicep.outputs.items():
        expression = bicep.text(value)
        assert not re.search(
            r"password|connectionstring|accountkey|instrumentationkey", name, re.I
        )
        assert not re.search(
            r"ConnectionString|InstrumentationKey|primaryKey|listKeys", expression
        )
        assert not any(re.search(rf"\b{p}\b", expression) for p in secure_params), name


def test_storage_account_disallows_shared_keys() -> None:
    storage = load(MODULES / "storage.bicep")

    assert _single(storage, "allowSharedKeyAccess") == "false"
    assert _single(storage, "defaultToOAuthAuthentication") == "true"


def test_storage_https_tls12_private_blobs() -> None:
    storage = load(MODULES / "storage.bicep")

    assert _single(storage, "minimumTlsVersion") == "'TLS1_2'"
    assert _single(storage, "supportsHttpsTrafficOnly") == "true"
    assert _single(storage, "allowBlobPublicAccess") == "false"
    assert _single(storage, "publicAccess") == "'None'"


def test_storage_creates_both_containers() -> None:
    main = load(MAIN_BICEP)
    call = main.module("storage.bicep")
    container_refs = [
        main.text(node) for node in call.params["containerNames"].named_children
    ]
    containers = {main.text(main.variables[ref]) for ref in container_refs}

    assert containers == {"'app-package'", "'images'"}


def test_key_vault_rbac_and_purge_protection() -> None:
    vault = load(MODULES / "keyvault.bicep")

    assert _single(vault, "enableRbacAuthorization") == "true"
    assert _single(vault, "enableSoftDelete") == "true"
    assert _single(vault, "enablePurgeProtection") == "true"


def test_key_vault_secrets_come_from_secure_params() -> None:
    vault = load(MODULES / "keyvault.bicep")
    secrets = vault.resources_of_type("Microsoft.KeyVault/vaults/secrets")
    secure_params = {name for name, param in vault.params.items() if param.secure}

    assert len(secrets) == 2
    for secret in secrets:
        assert _single(vault, "value", secret.body) in secure_params


def test_application_insights_accepts_entra_id_only() -> None:
    monitoring = load(MODULES / "monitoring.bicep")

    assert _single(monitoring, "DisableLocalAuth") == "true"
    assert _single(monitoring, "WorkspaceResourceId") == "workspace.id"
    assert _single(monitoring, "disableLocalAuth") == "true"


def test_plan_is_flex_consumption_on_linux() -> None:
    app = load(MODULES / "function-app.bicep")
    (plan,) = app.resources_of_type("Microsoft.Web/serverfarms")

    assert app.property_texts("tier", plan.body) == ["'FlexConsumption'"]
    assert "'FC1'" in app.property_texts("name", plan.body)
    assert app.property_texts("reserved", plan.body) == ["true"]


def test_function_app_runs_python_311_on_flex() -> None:
    app = load(MODULES / "function-app.bicep")
    (site,) = app.resources_of_type("Microsoft.Web/sites")

    assert app.property_texts("kind", site.body) == ["'functionapp,linux'"]
    assert "'python'" in app.property_texts("name", site.body)
    assert app.property_texts("version", site.body) == ["'3.11'"]
    assert app.property_texts("instanceMemoryMB", site.body) == ["2048"]
    assert app.property_texts("maximumInstanceCount", site.body) == [
        "maximumInstanceCount"
    ]
    assert app.property_texts("httpsOnly", site.body) == ["true"]


def test_function_app_deploys_from_blob_with_identity() -> None:
    app = load(MODULES / "function-app.bicep")
    (site,) = app.resources_of_type("Microsoft.Web/sites")

    assert "'blobContainer'" in app.property_texts("type", site.body)
    assert "'UserAssignedIdentity'" in app.property_texts("type", site.body)
    assert app.property_texts("userAssignedIdentityResourceId", site.body) == [
        "identityId"
    ]
    assert app.property_texts("keyVaultReferenceIdentity", site.body) == ["identityId"]


def test_function_app_disables_basic_publishing_credentials() -> None:
    app = load(MODULES / "function-app.bicep")
    policies = app.resources_of_type(
        "Microsoft.Web/sites/basicPublishingCredentialsPolicies"
    )
    names = sorted(_single(app, "name", p.body) for p in policies)

    assert names == ["'ftp'", "'scm'"]
    for policy in policies:
        assert _single(app, "allow", policy.body) == "false"


def test_app_settings_are_complete() -> None:
    assert REQUIRED_SETTINGS - set(_app_settings()) == set()


def test_app_settings_avoid_keys_and_unsupported_names() -> None:
    assert FORBIDDEN_SETTINGS & set(_app_settings()) == set()


def test_host_storage_uses_managed_identity() -> None:
    settings = _app_settings()

    assert settings["AzureWebJobsStorage__credential"] == "'managedidentity'"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    assert settings["AzureWebJobsStorage__accountName"] == "storageAccountName"
    assert settings["AZURE_CLIENT_ID"] == "identityClientId"


def test_secrets_are_key_vault_references() -> None:
    settings = _app_settings()

    for name in ("FACTORY_GITHUB_WEBHOOK_SECRET", "FACTORY_ADO_WEBHOOK_SECRET"):
        assert settings[name].startswith(KEY_VAULT_REFERENCE), name
    assert settings["FACTORY_CONFIG_REPO_TOKEN"].startswith(KEY_VAULT_REFERENCE)


def test_app_insights_setting_uses_entra_id() -> None:
    settings = _app_settings()

    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "'Authorization=AAD;ClientId=${identityClientId}'"
    )
    assert settings["APPLICATIONINSIGHTS_CONNECTION_STRING"] == (
        "applicationInsights.properties.ConnectionString"
    )


def test_factory_settings_use_expected_sources() -> None:
    main = load(MAIN_BICEP)
    settings = _app_settings()

    assert settings["FACTORY_IMAGE_STORE_CONTAINER"] == "imageStoreContainerName"
    assert main.text(main.variables["imageStoreContainerName"]) == "'images'"
    assert settings["FACTORY_ARM_ENDPOINT"] == "armEndpoint"
    assert settings["FACTORY_CONFIG_REPO"] == "configRepoUrl"
    assert settings["FACTORY_CONFIG_BRANCH"] == "configRepoBranch"
    assert (
        settings["FACTORY_MONITOR_INTERVAL_SECONDS"] == "string(monitorIntervalSeconds)"
    )
