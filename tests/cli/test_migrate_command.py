"""imagefactory migrate: the PowerShell factory's sample, converted and validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import EXAMPLE_DIR, LAB_PREFIX, SAMPLE_DIR, SAMPLE_LAB, run_cli

FACTORY_LAB = f"{LAB_PREFIX}dtl-image-factory"
MAPPING = f"{SAMPLE_LAB}={LAB_PREFIX}dtl-team-web"


def test_migrate_sample_writes_new_format(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "converted"
    result = run_cli(
        capsys,
        "migrate",
        SAMPLE_DIR,
        target,
        "--factory-lab",
        FACTORY_LAB,
        "--map-lab",
        MAPPING,
    )
    written = sorted(p.relative_to(target).as_posix() for p in target.rglob("*.yaml"))

    assert result.status == 0, result.out
    assert "converted 3 images and 1 team lab into" in result.out
    assert written == [
        "factory.yaml",
        "images/win2012r2/vs2015-enterprise-with-azure-sdk.yaml",
        "images/win2016/datacenter.yaml",
        "images/win2016/sqlserver-2016-express.yaml",
        "labs.yaml",
    ]


def test_migrate_result_validates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "converted"
    run_cli(
        capsys,
        "migrate",
        SAMPLE_DIR,
        target,
        "--factory-lab",
        FACTORY_LAB,
        "--map-lab",
        MAPPING,
    )
    result = run_cli(capsys, "validate", target)

    assert result.status == 0
    assert result.out == "valid configuration: 3 images, 1 team lab, 0 warnings.\n"


def test_migrate_keeps_folder_rule_in_labs_yaml(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "converted"
    run_cli(
        capsys,
        "migrate",
        SAMPLE_DIR,
        target,
        "--factory-lab",
        FACTORY_LAB,
        "--map-lab",
        MAPPING,
    )
    labs = (target / "labs.yaml").read_text()

    assert "  - win2012r2/vs2015-enterprise-with-azure-sdk\n" in labs
    assert "  - win2016/\n" in labs
    assert f"lab: {LAB_PREFIX}dtl-team-web\n" in labs


def test_migrate_image_file_content(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "converted"
    run_cli(
        capsys,
        "migrate",
        SAMPLE_DIR,
        target,
        "--factory-lab",
        FACTORY_LAB,
        "--map-lab",
        MAPPING,
    )
    text = (target / "images" / "win2016" / "datacenter.yaml").read_text()

    assert text.startswith("# Converted from GoldenImages/Win2016/Datacenter.json\n")
    assert "description: Windows Server 2016 Datacenter\n" in text
    assert "os_type: Windows\n" in text
    assert "    sku: 2016-Datacenter\n" in text


def test_migrate_placeholders_write_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "converted"
    result = run_cli(capsys, "migrate", SAMPLE_DIR, target)

    assert result.status == 1
    assert "Labs.json:4:24: Labs[0].ResourceGroup: " in result.out
    assert "Labs.json:5:25: Labs[0].SubscriptionId: " in result.out
    assert "Labs.json:6:18: Labs[0].LabName: " in result.out
    assert "pass --factory-lab" in result.out
    assert "Nothing was written." in result.out
    assert not target.exists()


def test_migrate_rejects_non_empty_target(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = run_cli(
        capsys, "migrate", SAMPLE_DIR, tmp_path, "--factory-lab", FACTORY_LAB
    )

    assert result.status == 2
    assert "is not an empty folder" in result.err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_migrate_rejects_new_format_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_cli(capsys, "migrate", EXAMPLE_DIR, tmp_path / "out")

    assert result.status == 2
    assert "it has labs.yaml" in result.err


def test_migrate_invalid_factory_lab(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    result = run_cli(
        capsys,
        "migrate",
        SAMPLE_DIR,
        tmp_path / "out",
        "--factory-lab",
        "dtl-lab",
        "--map-lab",
        MAPPING,
    )

    assert result.status == 1
    assert "factory.yaml: --factory-lab: 'dtl-lab' is not an ARM resource id." in (
        result.out
    )
