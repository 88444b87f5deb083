"""Builders of configuration repositories for the configuration tests."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from shared.config import ConfigError, ConfigIssue, load_config_files
from shared.config.catalog import ArtifactCatalog

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "config-repo"
BROKEN_DIR = Path(__file__).resolve().parent / "broken"

SUBSCRIPTION = "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"
LAB_PREFIX = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-imagefactory"
    "/providers/Microsoft.DevTestLab/labs/"
)

FACTORY_YAML = f"""\
factory:
  lab: {LAB_PREFIX}dtl-image-factory
"""

LINUX_IMAGE_YAML = """\
description: Ubuntu with git
os_type: Linux
base:
  gallery:
    publisher: Canonical
    offer: 0001-com-ubuntu-server-jammy
    sku: 22_04-lts-gen2
artifacts:
  - name: linux-apt-package
    parameters:
      packages: git
"""

WINDOWS_IMAGE_YAML = """\
os_type: Windows
base:
  gallery:
    publisher: MicrosoftWindowsServer
    offer: WindowsServer
    sku: 2022-datacenter-azure-edition
artifacts:
  - name: windows-7zip
"""


def labs_yaml(*patterns: str) -> str:
    """Return a labs.yaml with one team lab that includes `patterns`."""
    listed = ", ".join(f'"{pattern}"' for pattern in patterns)
    return f"""\
labs:
  - name: team-web
    lab: {LAB_PREFIX}dtl-team-web
    images: [{listed}]
"""


def minimal_files(
    changes: Mapping[str, str | bytes | None] | None = None,
) -> dict[str, bytes]:
    """Return a small valid repository with `changes` applied (None deletes a file)."""
    files: dict[str, str | bytes] = {
        "factory.yaml": FACTORY_YAML,
        "labs.yaml": labs_yaml("linux", "windows"),
        "images/linux/base.yaml": LINUX_IMAGE_YAML,
        "images/windows/base.yaml": WINDOWS_IMAGE_YAML,
    }
    for path, content in (changes or {}).items():
        if content is None:
            files.pop(path, None)
        else:
            files[path] = content
    return {path: _to_bytes(content) for path, content in files.items()}


def _to_bytes(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else content.encode("utf-8")


def example_files() -> dict[str, bytes]:
    """Return the files of examples/config-repo keyed by repository-relative path."""
    return {
        path.relative_to(EXAMPLE_DIR).as_posix(): path.read_bytes()
        for path in sorted(EXAMPLE_DIR.rglob("*"))
        if path.is_file()
    }


def load_catalog() -> ArtifactCatalog:
    return ArtifactCatalog.bundled()


def load_errors(
    files: dict[str, bytes], catalog: ArtifactCatalog | None = None
) -> list[ConfigIssue]:
    """Load a repository that must be invalid; return its errors."""
    with pytest.raises(ConfigError) as caught:
        load_config_files(files, catalog)
    return caught.value.errors


def find_issue(issues: list[ConfigIssue], field: str) -> ConfigIssue:
    """Return the one issue about `field`; fail listing all issues otherwise."""
    matches = [issue for issue in issues if issue.field == field]
    listed = "\n".join(str(issue) for issue in issues)
    assert len(matches) == 1, f"expected one issue on {field!r}, got:\n{listed}"
    return matches[0]
