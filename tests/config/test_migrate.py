"""Repositories in the PowerShell image factory's layout: conversion and loading."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dulwich.repo import Repo

from shared.config import ConfigError, FactoryConfig, load_config_dir, load_config_files
from shared.config.issues import IssueCollector
from shared.gitsource import fetch_config
from shared.migrate import (
    LegacyOptions,
    convert_legacy,
    detect_layout,
    image_name_of,
    pattern_of,
)
from shared.models import Run
from shared.planner import plan_run

from .gitrepos import commit_files, init_repo
from .helpers import LAB_PREFIX, find_issue, load_catalog

SAMPLE_DIR = (
    Path(__file__).resolve().parents[1] / "fixtures" / "original-factory-config"
)
SAMPLE_LAB = "<Name of the DevTest Lab>"
FACTORY_LAB_ID = f"{LAB_PREFIX}dtl-image-factory"
TEAM_LAB_ID = f"{LAB_PREFIX}dtl-team-web"
SAMPLE_OPTIONS = LegacyOptions(FACTORY_LAB_ID, {SAMPLE_LAB: TEAM_LAB_ID})
SAMPLE_IMAGES = [
    "win2012r2/vs2015-enterprise-with-azure-sdk",
    "win2016/datacenter",
    "win2016/sqlserver-2016-express",
]


def sample_files() -> dict[str, bytes]:
    return {
        path.relative_to(SAMPLE_DIR).as_posix(): path.read_bytes()
        for path in sorted(SAMPLE_DIR.rglob("*"))
        if path.is_file()
    }


def template(
    artifacts: list[dict[str, Any]] | None = None,
    properties: dict[str, Any] | None = None,
    parameters: dict[str, Any] | None = None,
) -> bytes:
    """Return a golden image template as DevTest Labs exports it, with changes."""
    vm_properties: dict[str, Any] = {
        "notes": "Windows Server 2022 with tools",
        "galleryImageReference": {
            "offer": "WindowsServer",
            "publisher": "MicrosoftWindowsServer",
            "sku": "2022-datacenter-azure-edition",
            "osType": "Windows",
            "version": "latest",
        },
        "size": "[parameters('size')]",
        "userName": "[parameters('userName')]",
        "password": "[parameters('password')]",
        "storageType": "Standard",
    }
    if artifacts is not None:
        vm_properties["artifacts"] = artifacts
    vm_properties.update(properties or {})
    document = {
        "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json",
        "contentVersion": "1.0.0.0",
        "parameters": {
            "newVMName": {"type": "string"},
            "labName": {"type": "string"},
            "size": {"type": "string"},
            "userName": {"type": "string"},
            "password": {"type": "securestring"},
            **(parameters or {}),
        },
        "variables": {
            "vmName": "[concat(parameters('labName'), '/', parameters('newVMName'))]"
        },
        "resources": [
            {
                "apiVersion": "2018-10-15-preview",
                "type": "Microsoft.DevTestLab/labs/virtualmachines",
                "name": "[variables('vmName')]",
                "location": "[resourceGroup().location]",
                "properties": vm_properties,
            }
        ],
    }
    return json.dumps(document, indent=2).encode()


def public_artifact(name: str, parameters: list[dict[str, Any]] | None = None) -> dict:
    artifact: dict[str, Any] = {
        "artifactId": "[resourceId('Microsoft.DevTestLab/labs/artifactSources/"
        f"artifacts', parameters('labName'), 'public repo', '{name}')]"
    }
    if parameters is not None:
        artifact["parameters"] = parameters
    return artifact


def labs_json(*image_paths: str, lab: str = "dtl-team-web") -> bytes:
    entry = {
        "SubscriptionId": "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40",
        "ResourceGroup": "rg-imagefactory",
        "LabName": lab,
        "ImagePaths": list(image_paths),
    }
    return json.dumps({"Labs": [entry]}, indent=2).encode()


def legacy_files(
    templates: dict[str, bytes], *image_paths: str, root: str = ""
) -> dict[str, bytes]:
    files = {f"{root}Labs.json": labs_json(*(image_paths or ("",)))}
    for path, data in templates.items():
        files[f"{root}GoldenImages/{path}"] = data
    return files


def line_of(data: bytes, text: str) -> int:
    """Return the 1-based number of the first line of `data` that contains `text`."""
    for number, line in enumerate(data.decode().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not found")


def load_legacy(files: dict[str, bytes], **options: Any) -> FactoryConfig:
    return load_config_files(
        files, load_catalog(), LegacyOptions(factory_lab=FACTORY_LAB_ID, **options)
    )


def legacy_errors(files: dict[str, bytes], **options: Any) -> list[Any]:
    with pytest.raises(ConfigError) as caught:
        load_legacy(files, **options)
    return caught.value.issues


def test_sample_loads_with_lab_mapping() -> None:
    config = load_config_dir(SAMPLE_DIR, load_catalog(), SAMPLE_OPTIONS)

    assert sorted(config.images) == SAMPLE_IMAGES
    assert config.factory_lab_id == FACTORY_LAB_ID
    assert [lab.lab_id for lab in config.labs] == [TEAM_LAB_ID]
    assert config.warnings == []


def test_sample_images_read_from_templates() -> None:
    config = load_config_dir(SAMPLE_DIR, load_catalog(), SAMPLE_OPTIONS)
    image = config.images["win2016/sqlserver-2016-express"]

    assert image.file == "GoldenImages/Win2016/SQLServer 2016 Express.json"
    assert image.os_type == "Windows"
    assert image.description == (
        "Free License: SQL Server 2016 SP1 Express on Windows Server 2016"
    )
    assert (image.base.publisher, image.base.offer, image.base.sku) == (  # type: ignore[union-attr]
        "MicrosoftSQLServer",
        "SQL2016SP1-WS2016",
        "Express",
    )
    assert image.storage_type == "Standard"
    assert image.vm_size == config.defaults.vm_size
    assert image.artifacts == []


def test_sample_keeps_folder_prefix_rule() -> None:
    config = load_config_dir(SAMPLE_DIR, load_catalog(), SAMPLE_OPTIONS)
    lab = config.labs[0]

    assert lab.include == ["win2012r2/vs2015-enterprise-with-azure-sdk", "win2016/"]
    assert [image.name for image in config.images_for(lab)] == SAMPLE_IMAGES


def test_sample_plans_builds_and_copies() -> None:
    config = load_config_dir(SAMPLE_DIR, load_catalog(), SAMPLE_OPTIONS)
    run = Run(
        run_id="r1",
        trigger="push",
        ref="refs/heads/main",
        created_at=datetime(2026, 12, 4, 15, 30, tzinfo=UTC),
    )
    tasks = plan_run(config, run, lambda i, h: None, lambda lab, i, v: False)

    assert sorted(t.image for t in tasks if t.kind == "build") == SAMPLE_IMAGES
    copies = [t for t in tasks if t.kind == "copy"]
    assert {t.lab_id for t in copies} == {TEAM_LAB_ID}
    assert len(copies) == 3


def test_sample_placeholders_reported_at_labs_json() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(SAMPLE_DIR, load_catalog())
    issues = caught.value.issues

    assert [(i.file, i.line, i.field) for i in issues] == [
        ("Labs.json", 4, "Labs[0].ResourceGroup"),
        ("Labs.json", 5, "Labs[0].SubscriptionId"),
        ("Labs.json", 6, "Labs[0].LabName"),
        ("factory.yaml", None, ""),
    ]
    subscription = issues[1]
    assert "'<subscription ID that contains the lab>' is a placeholder" in (
        subscription.message
    )
    assert f"--map-lab '{SAMPLE_LAB}=<lab resource id>'" in subscription.message
    assert "--factory-lab" in issues[3].message


def test_layout_detection() -> None:
    assert detect_layout({"Labs.json": b""}).root == ""  # type: ignore[union-attr]
    assert detect_layout({"Configuration/Labs.json": b""}).root == "Configuration/"  # type: ignore[union-attr]
    assert detect_layout({"GoldenImages/a.json": b""}) is not None
    assert detect_layout({"Labs.json": b"", "labs.yaml": b""}) is None
    assert detect_layout({"labs.yaml": b"", "factory.yaml": b""}) is None


def test_configuration_folder_layout_loads() -> None:
    files = legacy_files(
        {"Win2022/Base.json": template()}, "Win2022", root="Configuration/"
    )
    config = load_legacy(files)

    assert list(config.images) == ["win2022/base"]
    assert (
        config.images["win2022/base"].file
        == "Configuration/GoldenImages/Win2022/Base.json"
    )


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("Win2016/SQLServer 2016 Express.json", "win2016/sqlserver-2016-express"),
        (
            "Win2012R2/VS2015 Enterprise with Azure SDK.json",
            "win2012r2/vs2015-enterprise-with-azure-sdk",
        ),
        ("Dev Tools/.NET 4.8 + VS.json", "dev-tools/net-4-8-vs"),
        ("base.JSON", "base"),
    ],
)
def test_image_name_of_template(path: str, name: str) -> None:
    assert image_name_of(path) == name


@pytest.mark.parametrize(
    ("image_path", "pattern"),
    [
        ("Win2016", "win2016/"),
        ("Win2016/", "win2016/"),
        ("Win2016\\SQL", "win2016/sql/"),
        ("Win2016/Datacenter.json", "win2016/datacenter"),
        ("./Win2016/Datacenter.json", "win2016/datacenter"),
        ("", "**"),
    ],
)
def test_pattern_of_image_path(image_path: str, pattern: str) -> None:
    assert pattern_of(image_path) == pattern


def test_image_path_file_names_one_image() -> None:
    files = legacy_files(
        {
            "Win2022/Base.json": template(),
            "Win2022/Tools.json": template(),
        },
        "Win2022/Tools.json",
    )
    config = load_legacy(files)

    assert [i.name for i in config.images_for(config.labs[0])] == ["win2022/tools"]
    assert [i.file for i in config.warnings] == ["GoldenImages/Win2022/Base.json"]
    assert "to the ImagePaths in Labs.json" in config.warnings[0].message


def test_artifacts_converted_with_parameters() -> None:
    artifacts = [
        public_artifact(
            "windows-chocolatey",
            [
                {"name": "packages", "value": "[concat('git', ',', 'vscode')]"},
                {"name": "ignoreChecksums", "value": False},
            ],
        ),
        public_artifact("windows-7zip"),
        public_artifact("windows-sysprep"),
    ]
    files = legacy_files({"Win2022/Tools.json": template(artifacts)}, "Win2022")
    config = load_legacy(files)
    image = config.images["win2022/tools"]

    assert [a.name for a in image.artifacts] == ["windows-chocolatey", "windows-7zip"]
    assert image.artifacts[0].parameters == {
        "packages": "git,vscode",
        "ignoreChecksums": "false",
    }
    sysprep = find_issue(
        config.warnings, "resources[0].properties.artifacts[2].artifactId"
    )
    assert "is left out" in sysprep.message


def test_template_size_literal_kept() -> None:
    files = legacy_files(
        {"Win2022/Big.json": template(properties={"size": "Standard_D8s_v3"})},
        "Win2022",
    )

    assert load_legacy(files).images["win2022/big"].vm_size == "Standard_D8s_v3"


def test_unknown_artifact_points_at_template() -> None:
    artifacts = [
        public_artifact("windows-chocolaty", [{"name": "packages", "value": "git"}])
    ]
    files = legacy_files({"Win2022/Tools.json": template(artifacts)}, "Win2022")
    issue = find_issue(
        legacy_errors(files), "resources[0].properties.artifacts[0].artifactId"
    )

    assert issue.file == "GoldenImages/Win2022/Tools.json"
    assert issue.line == line_of(files[issue.file], "windows-chocolaty")
    assert "Did you mean 'windows-chocolatey'?" in issue.message


def test_parameter_type_error_points_at_value() -> None:
    artifacts = [
        public_artifact(
            "windows-vscode64", [{"name": "Architecture", "value": "64bit"}]
        )
    ]
    files = legacy_files({"Win2022/Code.json": template(artifacts)}, "Win2022")
    issue = find_issue(
        legacy_errors(files), "resources[0].properties.artifacts[0].parameters[0].value"
    )

    assert issue.line == line_of(files[issue.file], '"64bit"')
    assert "'64bit' is not an allowed value" in issue.message


def test_unsupported_function_rejected() -> None:
    properties = {"notes": "[uniqueString(resourceGroup().id)]"}
    files = legacy_files(
        {"Win2022/Odd.json": template(properties=properties)}, "Win2022"
    )
    issue = find_issue(legacy_errors(files), "resources[0].properties.notes")

    assert "function 'uniqueString' is not supported" in issue.message
    assert issue.line == line_of(files[issue.file], "uniqueString")


def test_missing_parameter_in_artifact_rejected() -> None:
    artifacts = [
        public_artifact(
            "windows-chocolatey",
            [{"name": "packages", "value": "[parameters('password')]"}],
        )
    ]
    files = legacy_files({"Win2022/Tools.json": template(artifacts)}, "Win2022")
    issue = find_issue(
        legacy_errors(files), "resources[0].properties.artifacts[0].parameters[0].value"
    )

    assert "parameter 'password' has no defaultValue" in issue.message


def test_parameter_default_value_used() -> None:
    artifacts = [
        public_artifact(
            "windows-chocolatey",
            [{"name": "packages", "value": "[parameters('tools')]"}],
        )
    ]
    parameters = {"tools": {"type": "string", "defaultValue": "git"}}
    files = legacy_files(
        {"Win2022/Tools.json": template(artifacts, parameters=parameters)}, "Win2022"
    )
    image = load_legacy(files).images["win2022/tools"]

    assert image.artifacts[0].parameters == {"packages": "git"}


def test_private_artifact_source_rejected() -> None:
    artifact = {
        "artifactId": "[resourceId('Microsoft.DevTestLab/labs/artifactSources/"
        "artifacts', parameters('labName'), 'team repo', 'install-tools')]"
    }
    files = legacy_files({"Win2022/Tools.json": template([artifact])}, "Win2022")
    issue = find_issue(
        legacy_errors(files), "resources[0].properties.artifacts[0].artifactId"
    )

    assert "comes from artifact source 'team repo'" in issue.message


def test_custom_image_base_rejected() -> None:
    properties = {"customImageId": "/subscriptions/x/customimages/y"}
    files = legacy_files(
        {"Win2022/Layer.json": template(properties=properties)}, "Win2022"
    )
    issue = find_issue(legacy_errors(files), "resources[0].properties.customImageId")

    assert "starts from a custom image" in issue.message


def test_template_without_vm_rejected() -> None:
    files = legacy_files({"Win2022/Empty.json": b'{"resources": []}'}, "Win2022")
    issue = find_issue(legacy_errors(files), "resources")

    assert "found 0" in issue.message


def test_invalid_json_template_reported() -> None:
    files = legacy_files(
        {"Win2022/Broken.json": b'{\n  "resources": [,]\n}'}, "Win2022"
    )
    issues = legacy_errors(files)

    assert [(i.file, i.line, i.column) for i in issues if i.severity == "error"] == [
        ("GoldenImages/Win2022/Broken.json", 2, 17)
    ]


def test_image_name_collision_reported() -> None:
    files = legacy_files(
        {"Win2022/Dev Tools.json": template(), "Win2022/dev-tools.json": template()},
        "Win2022",
    )
    issues = legacy_errors(files)
    collisions = [i for i in issues if "both become image" in i.message]

    assert len(collisions) == 1
    assert collisions[0].file == "GoldenImages/Win2022/dev-tools.json"


def test_labs_json_unknown_key_suggests() -> None:
    data = json.loads(labs_json("Win2022"))
    data["Labs"][0]["ImagePath"] = data["Labs"][0].pop("ImagePaths")
    files = legacy_files({"Win2022/Base.json": template()})
    files["Labs.json"] = json.dumps(data, indent=2).encode()
    issues = legacy_errors(files)
    unknown = find_issue(issues, "Labs[0].ImagePath")

    assert "Did you mean 'ImagePaths'?" in unknown.message
    assert unknown.line == line_of(files["Labs.json"], '"ImagePath"')
    assert [i.field for i in issues] == ["Labs[0].ImagePath"]


def test_duplicate_lab_entries_merged() -> None:
    files = legacy_files({"A/One.json": template(), "B/Two.json": template()})
    entry = json.loads(labs_json("A"))["Labs"][0]
    second = dict(entry, ImagePaths=["B"])
    files["Labs.json"] = json.dumps({"Labs": [entry, second]}).encode()
    config = load_legacy(files)

    assert len(config.labs) == 1
    assert config.labs[0].include == ["a/", "b/"]


def test_lab_map_unknown_name_reported() -> None:
    files = legacy_files({"Win2022/Base.json": template()}, "Win2022")
    issues = legacy_errors(files, lab_map={"other-lab": TEAM_LAB_ID})

    assert any("names 'other-lab'" in i.message for i in issues)


def test_factory_yaml_names_factory_lab() -> None:
    files = legacy_files({"Win2022/Base.json": template()}, "Win2022")
    files["factory.yaml"] = f"factory:\n  lab: {FACTORY_LAB_ID}\n".encode()
    config = load_config_files(files, load_catalog())

    assert config.factory_lab_id == FACTORY_LAB_ID


def test_factory_yaml_and_option_conflict() -> None:
    files = legacy_files({"Win2022/Base.json": template()}, "Win2022")
    files["factory.yaml"] = f"factory:\n  lab: {FACTORY_LAB_ID}\n".encode()
    issues = legacy_errors(files)

    assert any("--factory-lab option" in i.message for i in issues)


def test_conversion_writes_new_format_files() -> None:
    issues = IssueCollector()
    files = sample_files()
    conversion = convert_legacy(files, detect_layout(files), SAMPLE_OPTIONS, issues)  # type: ignore[arg-type]

    assert issues.issues == []
    assert sorted(conversion.files) == [
        "factory.yaml",
        *[f"images/{name}.yaml" for name in SAMPLE_IMAGES],
        "labs.yaml",
    ]
    config = load_config_files(conversion.files, load_catalog())
    assert sorted(config.images) == SAMPLE_IMAGES


def test_git_tree_reads_legacy_layout(tmp_path: Path) -> None:
    repo: Repo = init_repo(tmp_path / "old.git", bare=True)
    files = sample_files()
    files["README.md"] = b"# old factory\n"
    commit_files(repo, dict(files))
    snapshot = fetch_config(repo.path, "main")
    repo.close()

    assert sorted(snapshot.files) == sorted(
        path for path in sample_files() if path.endswith(".json")
    )
