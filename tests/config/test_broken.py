"""Broken repositories under broken/<case>/ report exactly the issues in expected.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, load_config_dir, load_config_files

from .helpers import BROKEN_DIR, load_catalog

CASES = sorted(path.name for path in BROKEN_DIR.iterdir() if path.is_dir())


def case_issues(case: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(BROKEN_DIR / case, load_catalog())
    return [str(issue) for issue in caught.value.issues]


def expected_issues(case: str) -> list[str]:
    text = (BROKEN_DIR / case / "expected.txt").read_text(encoding="utf-8")
    return text.splitlines()


def test_broken_corpus_has_cases() -> None:
    assert CASES == [
        "artifacts",
        "files",
        "labs",
        "layering",
        "powershell-factory",
        "unknown-fields",
    ]


@pytest.mark.parametrize("case", CASES)
def test_broken_case_reports_expected_issues(case: str) -> None:
    assert case_issues(case) == expected_issues(case)


@pytest.mark.parametrize("case", CASES)
def test_broken_case_same_from_files(case: str) -> None:
    root = BROKEN_DIR / case
    files = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file()
    }

    with pytest.raises(ConfigError) as caught:
        load_config_files(files, load_catalog())

    assert [str(issue) for issue in caught.value.issues] == expected_issues(case)


def test_broken_unknown_field_position() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(BROKEN_DIR / "unknown-fields", load_catalog())
    issue = next(i for i in caught.value.issues if i.field == "base.galery")

    assert issue.file == "images/windows/vs2022.yaml"
    assert issue.line == 4
    assert issue.column == 3
    assert issue.severity == "error"
    assert "Did you mean 'gallery'?" in issue.message


def test_broken_typo_hides_missing_required() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(BROKEN_DIR / "unknown-fields", load_catalog())
    fields = [issue.field for issue in caught.value.issues]

    assert "labs[0].image" in fields
    assert "labs[0].images" not in fields
    assert "base.gallery" not in fields


def test_broken_artifact_issues_point_at_values() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(BROKEN_DIR / "artifacts", load_catalog())
    by_field = {issue.field: issue for issue in caught.value.issues}

    unknown = by_field["artifacts[0].name"]
    assert unknown.file == "images/windows/tools.yaml"
    assert (unknown.line, unknown.column) == (8, 11)
    assert "windows-chocolaty" in unknown.message
    assert "Did you mean 'windows-chocolatey'?" in unknown.message

    missing = by_field["artifacts[1].parameters.packages"]
    assert missing.line == 11
    assert "requires parameter 'packages'" in missing.message

    secret = by_field["artifacts[3].parameters.securestringParam"]
    assert secret.severity == "warning"


def test_broken_expected_files_exist() -> None:
    for case in CASES:
        assert Path(BROKEN_DIR / case / "expected.txt").is_file(), case
