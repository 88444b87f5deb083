from __future__ import annotations

import pytest

from shared.errors import SettingsError
from shared.settings import Settings

LOCAL = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "FACTORY_CONFIG_REPO": "/tmp/config-repo",
}


def test_settings_defaults() -> None:
    settings = Settings.from_env(LOCAL)
    assert settings.arm_endpoint == "https://management.azure.com"
    assert settings.config_branch == "main"
    assert settings.image_store_container == "images"
    assert settings.monitor_interval_seconds == 60.0


def test_settings_identity_based_storage() -> None:
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage__accountName": "stfactory",
            "AzureWebJobsStorage__clientId": "1111",
            "FACTORY_CONFIG_REPO": "https://github.com/contoso/images.git",
        }
    )
    assert settings.storage.connection_string is None
    assert settings.storage.queue_url == "https://stfactory.queue.core.windows.net"
    assert settings.storage.client_id == "1111"


def test_settings_report_every_problem_at_once() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(
            {
                "FACTORY_ARM_ENDPOINT": "http://127.0.0.1:1",
                "FACTORY_MONITOR_INTERVAL_SECONDS": "soon",
            }
        )
    message = str(raised.value)
    assert "AzureWebJobsStorage is missing" in message
    assert "FACTORY_CONFIG_REPO is missing" in message
    assert "FACTORY_ARM_ENDPOINT='http://127.0.0.1:1' is invalid" in message
    assert "FACTORY_MONITOR_INTERVAL_SECONDS='soon' is invalid" in message


def test_settings_token_goes_into_https_url_only() -> None:
    https = Settings.from_env(
        {
            **LOCAL,
            "FACTORY_CONFIG_REPO": "https://github.com/contoso/images.git",
            "FACTORY_CONFIG_REPO_TOKEN": "s3cr/t",
        }
    )
    assert (
        https.config_source()
        == "https://x-access-token:s3cr%2Ft@github.com/contoso/images.git"
    )
    local = Settings.from_env({**LOCAL, "FACTORY_CONFIG_REPO_TOKEN": "t"})
    assert local.config_source() == "/tmp/config-repo"


def test_settings_reject_unresolved_key_vault_reference() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/gh/)"
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({**LOCAL, "FACTORY_GITHUB_WEBHOOK_SECRET": reference})
    assert "FACTORY_GITHUB_WEBHOOK_SECRET is an unresolved Key Vault reference" in str(
        raised.value
    )
