"""imagefactory validate: the broken corpus, output formats and exit statuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli import EXIT_BROKEN_PIPE
from shared.config import ConfigIssue

from .helpers import (
    BROKEN_DIR,
    EXAMPLE_DIR,
    LAB_PREFIX,
    REPO_ROOT,
    SAMPLE_DIR,
    SAMPLE_LAB,
    run_cli,
    run_script,
)

CASES = sorted(path.name for path in BROKEN_DIR.iterdir() if path.is_dir())


def expected_lines(case: str) -> list[str]:
    return (BROKEN_DIR / case / "expected.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("case", CASES)
def test_validate_reports_every_planted_issue(
    capsys: pytest.CaptureFixture[str], case: str
) -> None:
    result = run_cli(capsys, "validate", BROKEN_DIR / case, "--format", "json")
    report = result.json()
    reported = [
        str(ConfigIssue(**issue)) for issue in report["errors"] + report["warnings"]
    ]

    assert result.status == 1
    assert report["valid"] is False
    assert sorted(reported) == sorted(expected_lines(case))


@pytest.mark.parametrize("case", CASES)
def test_validate_text_lists_issues(
    capsys: pytest.CaptureFixture[str], case: str
) -> None:
    result = run_cli(capsys, "validate", BROKEN_DIR / case)
    lines = result.out.splitlines()

    assert result.status == 1
    assert sorted(lines[:-1]) == sorted(expected_lines(case))
    assert lines[-1].startswith("invalid configuration: ")


def test_validate_example_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "validate", EXAMPLE_DIR)

    assert result.status == 0
    assert result.out == "valid configuration: 6 images, 3 team labs, 0 warnings.\n"


def test_validate_json_of_valid_repository(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_cli(capsys, "validate", EXAMPLE_DIR, "--format", "json").json()

    assert report["valid"] is True
    assert report["layout"] == "imagefactory"
    assert report["errors"] == []
    assert len(report["images"]) == 6
    assert report["labs"] == ["team-web", "team-data", "team-qa"]


def test_validate_github_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(
        capsys, "validate", BROKEN_DIR / "unknown-fields", "--format", "github"
    )
    first = result.out.splitlines()[0]

    assert result.status == 1
    assert first.startswith("::error file=")
    assert "tests/config/broken/unknown-fields/factory.yaml,line=3,col=3" in first
    assert "title=factory.labb::unknown field 'labb'." in first


def test_validate_azure_annotations(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "validate", BROKEN_DIR / "labs", "--format", "azure")
    lines = result.out.splitlines()
    warning = next(line for line in lines if "type=warning" in line)

    assert lines[0].startswith("##vso[task.logissue type=error;sourcepath=/")
    assert "labs.yaml;linenumber=3;columnnumber=10;]labs[0].lab: " in lines[0]
    assert "linenumber=13;columnnumber=30;]" in warning


def test_validate_legacy_layout_with_mapping(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(
        capsys,
        "validate",
        SAMPLE_DIR,
        "--factory-lab",
        f"{LAB_PREFIX}dtl-image-factory",
        "--map-lab",
        f"{SAMPLE_LAB}={LAB_PREFIX}dtl-team-web",
        "--format",
        "json",
    )
    report = result.json()

    assert result.status == 0
    assert report["layout"] == "powershell-factory"
    assert len(report["images"]) == 3


def test_validate_legacy_sample_names_placeholders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = run_cli(capsys, "validate", SAMPLE_DIR)

    assert result.status == 1
    assert "Labs.json:5:25: Labs[0].SubscriptionId: " in result.out
    assert "--map-lab" in result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["validate", "no-such-folder"], "'no-such-folder' is not a folder"),
        (
            ["validate", str(EXAMPLE_DIR), "--catalog", "no-such-catalog"],
            "--catalog: artifact directory 'no-such-catalog' not found",
        ),
        (
            ["validate", str(SAMPLE_DIR), "--map-lab", "no-equals-sign"],
            "--map-lab 'no-equals-sign' is not LABNAME=ID",
        ),
        (
            ["validate", str(SAMPLE_DIR), "--lab-map", "no-such-map.json"],
            "--lab-map: cannot read 'no-such-map.json'",
        ),
    ],
)
def test_validate_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    result = run_cli(capsys, *argv)

    assert result.status == 2
    assert message in result.err
    assert result.out == ""


def test_validate_bad_format_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        run_cli(capsys, "validate", EXAMPLE_DIR, "--format", "xml")

    assert caught.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_validate_lab_map_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab_map = tmp_path / "labs.json"
    lab_map.write_text(f'{{"{SAMPLE_LAB}": "{LAB_PREFIX}dtl-team-web"}}')
    result = run_cli(
        capsys,
        "validate",
        SAMPLE_DIR,
        "--factory-lab",
        f"{LAB_PREFIX}dtl-image-factory",
        "--lab-map",
        lab_map,
    )

    assert result.status == 0


def test_console_script_validates() -> None:
    valid = run_script("validate", "examples/config-repo")
    invalid = run_script("validate", "tests/config/broken/layering")

    assert valid.status == 0, valid.err
    assert invalid.status == 1
    assert "images/linux/tools.yaml:3:10: base.image: " in invalid.out


def test_module_entry_point_runs() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "shared.cli", "validate", "examples/config-repo"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("valid configuration")


def test_reader_that_stops_early_gets_no_traceback() -> None:
    # As in `imagefactory validate | head -0`: the pipe closes before anything is read.
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared.cli",
            "validate",
            "--format",
            "json",
            EXAMPLE_DIR,
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    process.stderr.close()

    assert process.wait(timeout=60) == EXIT_BROKEN_PIPE
    assert err == ""
