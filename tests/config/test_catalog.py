"""Artifact catalog built from artifactfile.json documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config import ArtifactCatalog, ArtifactCatalogError, load_config_files
from shared.config.catalog import BUNDLED_ARTIFACTS_DIR

from .helpers import (
    LINUX_IMAGE_YAML,
    find_issue,
    load_catalog,
    load_errors,
    minimal_files,
)


def test_catalog_reads_public_repository() -> None:
    catalog = load_catalog()

    assert len(catalog) == 95
    assert "windows-chocolatey" in catalog
    assert "LICENSE.txt" not in catalog


def test_catalog_bundled_keeps_license() -> None:
    assert (BUNDLED_ARTIFACTS_DIR / "LICENSE.txt").is_file()


def test_catalog_parameter_required_rule() -> None:
    chocolatey = load_catalog().get("windows-chocolatey")
    apt = load_catalog().get("linux-apt-package")

    assert chocolatey is not None and apt is not None
    assert chocolatey.target_os_type == "Windows"
    assert chocolatey.parameters["packages"].required
    assert not chocolatey.parameters["ignoreChecksums"].required
    assert apt.parameters["packages"].required
    assert not apt.parameters["options"].required  # allowEmpty: true
    assert apt.parameters["update"].allowed_values == ("true", "false")


def test_catalog_bool_allowed_values_as_text() -> None:
    sshkey = load_catalog().get("linux-change-sshkey")

    assert sshkey is not None
    assert sshkey.parameters["sshReset"].allowed_values == ("true", "false")


def test_catalog_from_api_shaped_mapping() -> None:
    catalog = ArtifactCatalog(
        {
            "custom-tool": {
                "targetOsType": "Linux",
                "parameters": {"level": {"type": "int", "defaultValue": 1}},
            }
        }
    )
    image = LINUX_IMAGE_YAML.replace("linux-apt-package", "custom-tool").replace(
        "packages: git", "level: 3"
    )

    files = minimal_files(
        {"images/linux/base.yaml": image, "images/windows/base.yaml": None}
    )

    config = load_config_files(files, catalog)

    assert config.images["linux/base"].artifacts[0].parameters == {"level": "3"}


def test_catalog_unknown_artifact_in_small_catalog() -> None:
    catalog = ArtifactCatalog({"linux-apt-package": {"targetOsType": "Linux"}})
    errors = load_errors(minimal_files(), catalog)
    issue = find_issue(errors, "artifacts[0].name")

    assert issue.file == "images/windows/base.yaml"
    assert issue.message == (
        "unknown artifact 'windows-7zip'. "
        "Use the name of an artifact in the lab's artifact repository."
    )


@pytest.mark.parametrize(
    "parameter, value, message",
    [
        ("intParam", "'12'", None),
        ("intParam", "-3", None),
        ("intParam", "1.5", "expected a whole number, got '1.5'."),
        ("boolParam", "false", None),
        ("boolParam", "'TRUE'", None),
        ("boolParam", "1", "expected true or false, got '1'."),
        ("arrayParam", "[a, b]", None),
        ("arrayParam", "'[\"a\"]'", None),
        ("arrayParam", "{a: b}", 'expected a list, got \'{"a":"b"}\'.'),
        ("objectParam", "{a: b}", None),
        (
            "selectParam",
            "tset1",
            "'tset1' is not an allowed value. Did you mean 'test1'?",
        ),
        (
            "selectParam",
            "TEST2",
            "'TEST2' is not an allowed value. Did you mean 'test2'?",
        ),
        ("stringParam", "''", "must not be empty"),
        ("fileContentsParam", "''", None),
    ],
)
def test_catalog_parameter_types(
    parameter: str, value: str, message: str | None
) -> None:
    image = f"""\
os_type: Windows
base:
  gallery: {{publisher: MicrosoftWindowsServer, offer: WindowsServer, sku: 2022-datacenter}}
artifacts:
  - name: windows-test-paramtypes
    parameters:
      securestringParam: placeholder
      {parameter}: {value}
"""
    files = minimal_files({"images/windows/base.yaml": image})
    field = f"artifacts[0].parameters.{parameter}"
    if message is None:
        config = load_config_files(files, load_catalog())
        assert parameter in config.images["windows/base"].artifacts[0].parameters
        return

    issue = find_issue(load_errors(files, load_catalog()), field)
    assert message in issue.message
    assert issue.line == 8


def test_catalog_min_max_length(tmp_path: Path) -> None:
    folder = tmp_path / "linux-short"
    folder.mkdir()
    definition = {
        "targetOsType": "Linux",
        "parameters": {"code": {"type": "string", "minLength": 3, "maxLength": 5}},
    }
    (folder / "artifactfile.json").write_text(json.dumps(definition))
    catalog = ArtifactCatalog.from_directory(tmp_path)
    image = LINUX_IMAGE_YAML.replace("linux-apt-package", "linux-short")

    short = load_errors(
        minimal_files(
            {"images/linux/base.yaml": image.replace("packages: git", "code: ab")}
        ),
        catalog,
    )
    long = load_errors(
        minimal_files(
            {"images/linux/base.yaml": image.replace("packages: git", "code: abcdef")}
        ),
        catalog,
    )

    assert (
        "shorter than the minimum of 3"
        in find_issue(short, "artifacts[0].parameters.code").message
    )
    assert (
        "longer than the maximum of 5"
        in find_issue(long, "artifacts[0].parameters.code").message
    )


def test_catalog_bom_and_invalid_json(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "artifactfile.json").write_bytes(
        b"\xef\xbb\xbf" + b'{"targetOsType": "Linux"}'
    )
    assert "good" in ArtifactCatalog.from_directory(tmp_path)

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "artifactfile.json").write_text("{not json")
    with pytest.raises(ArtifactCatalogError, match="cannot read artifact definition"):
        ArtifactCatalog.from_directory(tmp_path)


def test_catalog_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactCatalogError, match="not found"):
        ArtifactCatalog.from_directory(tmp_path / "absent")


def test_catalog_rejects_malformed_definition() -> None:
    with pytest.raises(ArtifactCatalogError, match="'parameters' is not a mapping"):
        ArtifactCatalog({"x": {"parameters": ["a"]}})
