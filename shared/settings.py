"""App settings, read in one place and validated when first needed.

Nothing reads the environment at import time: the Functions host indexes
``function_app.py`` before settings such as Key Vault references resolve,
and an exception during indexing hides every function.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from shared.errors import SettingsError

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
STORAGE_SETTING = "AzureWebJobsStorage"
KEY_VAULT_REFERENCE_PREFIX = "@Microsoft.KeyVault("


@dataclass(frozen=True)
class StorageSettings:
    """How to reach the app's storage account: a connection string or identity-based URIs."""

    connection_string: str | None = None
    blob_url: str | None = None
    queue_url: str | None = None
    table_url: str | None = None
    client_id: str | None = None


@dataclass(frozen=True)
class Settings:
    """Every app setting the factory reads, with its default."""

    storage: StorageSettings
    config_repo: str
    config_branch: str = "main"
    config_repo_token: str | None = None
    github_webhook_secret: str | None = None
    ado_webhook_secret: str | None = None
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    image_store_container: str = "images"
    monitor_interval_seconds: float = 60.0
    watchdog_stall_minutes: float = 30.0
    orphan_margin_minutes: float = 30.0
    run_deadline_hours: float = 24.0
    auto_disable_after: int = 3
    notify_url: str | None = None
    github_status_token: str | None = None
    github_api_url: str = "https://api.github.com"
    client_id: str | None = None

    def config_source(self) -> str:
        """The config repository URL, with the read token as its password for https."""
        parts = urlsplit(self.config_repo)
        if not self.config_repo_token or parts.scheme != "https":
            return self.config_repo
        netloc = (
            f"x-access-token:{quote(self.config_repo_token, safe='')}@{parts.hostname}"
        )
        if parts.port:
            netloc += f":{parts.port}"
        return urlunsplit(
            (parts.scheme, netloc, parts.path, parts.query, parts.fragment)
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate the settings; raise SettingsError naming each bad one."""
        env = os.environ if environ is None else environ
        problems: list[str] = []

        def text(name: str, default: str | None = None) -> str | None:
            value = env.get(name, "").strip()
            if value.startswith(KEY_VAULT_REFERENCE_PREFIX):
                # App Service passes an unresolved Key Vault reference through
                # as text; using it as a secret would let anyone who knows the
                # vault's name sign deliveries.
                problems.append(
                    f"{name} is an unresolved Key Vault reference: check that the "
                    "app's identity has the Key Vault Secrets User role and that "
                    "the secret exists"
                )
                return None
            return value or default

        storage = _storage_settings(env, problems)
        config_repo = text("FACTORY_CONFIG_REPO")
        if config_repo is None:
            problems.append(
                "FACTORY_CONFIG_REPO is missing: set it to the https URL (or, locally, "
                "the path) of the git repository that holds the image definitions"
            )
        arm_endpoint = text("FACTORY_ARM_ENDPOINT", DEFAULT_ARM_ENDPOINT) or ""
        if urlsplit(arm_endpoint).scheme != "https":
            problems.append(
                f"FACTORY_ARM_ENDPOINT={arm_endpoint!r} is invalid: Azure Resource "
                "Manager is reached over https only (default https://management.azure.com)"
            )
        interval = _number(
            env, "FACTORY_MONITOR_INTERVAL_SECONDS", 60.0, problems, "seconds"
        )
        stall = _number(
            env, "FACTORY_WATCHDOG_STALL_MINUTES", 30.0, problems, "minutes"
        )
        deadline = _number(env, "FACTORY_RUN_DEADLINE_HOURS", 24.0, problems, "hours")
        margin = _number(
            env,
            "FACTORY_ORPHAN_MARGIN_MINUTES",
            30.0,
            problems,
            "minutes",
            allow_zero=True,
        )
        disable_after = _number(
            env, "FACTORY_AUTO_DISABLE_AFTER", 3, problems, "failed builds"
        )
        if disable_after != int(disable_after):
            problems.append(
                f"FACTORY_AUTO_DISABLE_AFTER={disable_after!r} is invalid: use a whole "
                "number of consecutive failed builds"
            )
        notify_url = text("FACTORY_NOTIFY_URL")
        github_api = text("FACTORY_GITHUB_API_URL", "https://api.github.com") or ""
        for name, url in (
            ("FACTORY_NOTIFY_URL", notify_url),
            ("FACTORY_GITHUB_API_URL", github_api),
        ):
            if url and urlsplit(url).scheme not in ("https", "http"):
                problems.append(f"{name}={url!r} is invalid: use an https URL")
        container = text("FACTORY_IMAGE_STORE_CONTAINER", "images") or "images"
        if not (3 <= len(container) <= 63 and container.replace("-", "").isalnum()):
            problems.append(
                f"FACTORY_IMAGE_STORE_CONTAINER={container!r} is invalid: use 3 to 63 "
                "lowercase letters, digits and hyphens"
            )
        secrets = {
            name: text(name)
            for name in (
                "FACTORY_CONFIG_REPO_TOKEN",
                "FACTORY_GITHUB_WEBHOOK_SECRET",
                "FACTORY_ADO_WEBHOOK_SECRET",
                "FACTORY_GITHUB_STATUS_TOKEN",
            )
        }
        if problems:
            raise SettingsError("invalid app settings:\n  " + "\n  ".join(problems))

        return cls(
            storage=storage,
            config_repo=config_repo or "",
            config_branch=text("FACTORY_CONFIG_BRANCH", "main") or "main",
            config_repo_token=secrets["FACTORY_CONFIG_REPO_TOKEN"],
            github_webhook_secret=secrets["FACTORY_GITHUB_WEBHOOK_SECRET"],
            ado_webhook_secret=secrets["FACTORY_ADO_WEBHOOK_SECRET"],
            arm_endpoint=arm_endpoint.rstrip("/"),
            image_store_container=container.lower(),
            monitor_interval_seconds=interval,
            watchdog_stall_minutes=stall,
            orphan_margin_minutes=margin,
            run_deadline_hours=deadline,
            auto_disable_after=int(disable_after),
            notify_url=notify_url,
            github_status_token=secrets["FACTORY_GITHUB_STATUS_TOKEN"],
            github_api_url=github_api.rstrip("/"),
            client_id=text("AZURE_CLIENT_ID"),
        )


def _storage_settings(env: Mapping[str, str], problems: list[str]) -> StorageSettings:
    connection_string = env.get(STORAGE_SETTING, "").strip()
    if connection_string:
        return StorageSettings(connection_string=connection_string)

    prefix = STORAGE_SETTING + "__"
    account = env.get(prefix + "accountName", "").strip()
    blob_url = env.get(prefix + "blobServiceUri", "").strip()
    queue_url = env.get(prefix + "queueServiceUri", "").strip()
    table_url = env.get(prefix + "tableServiceUri", "").strip()
    if account:
        blob_url = blob_url or f"https://{account}.blob.core.windows.net"
        queue_url = queue_url or f"https://{account}.queue.core.windows.net"
        table_url = table_url or f"https://{account}.table.core.windows.net"
    if not (blob_url and queue_url and table_url):
        problems.append(
            f"{STORAGE_SETTING} is missing: set it to a connection string, or set "
            f"{prefix}accountName (with {prefix}credential=managedidentity) for "
            "identity-based access"
        )
        return StorageSettings()
    return StorageSettings(
        blob_url=blob_url,
        queue_url=queue_url,
        table_url=table_url,
        client_id=env.get(prefix + "clientId", "").strip() or None,
    )


def _number(
    env: Mapping[str, str],
    name: str,
    default: float,
    problems: list[str],
    unit: str,
    allow_zero: bool = False,
) -> float:
    """Read a number setting; an invalid one is added to ``problems`` and the default used."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0 or (value == 0 and not allow_zero):
        limit = "0 or more" if allow_zero else "above 0"
        problems.append(f"{name}={raw!r} is invalid: use a number of {unit}, {limit}")
        return default
    return value


@functools.cache
def get_settings() -> Settings:
    """Return the process's settings, read once on first use."""
    return Settings.from_env()
