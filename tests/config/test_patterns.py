"""Pattern rules of team lab subscriptions."""

from __future__ import annotations

import pytest

from shared.config import TeamLab, pattern_matches
from shared.config.patterns import pattern_problem

from .helpers import LAB_PREFIX

IMAGES = [
    "base",
    "windows/vs2022",
    "windows/server2022",
    "windows/legacy/vs2019",
    "linux/ubuntu",
    "linux/data/spark",
    "team-a/tools",
]


@pytest.mark.parametrize(
    "pattern, expected",
    [
        # An exact name.
        ("windows/vs2022", ["windows/vs2022"]),
        ("base", ["base"]),
        # A folder name without wildcards takes everything below it.
        ("windows", ["windows/legacy/vs2019", "windows/server2022", "windows/vs2022"]),
        ("windows/", ["windows/legacy/vs2019", "windows/server2022", "windows/vs2022"]),
        ("windows/legacy", ["windows/legacy/vs2019"]),
        # "*" stays within one segment.
        ("windows/*", ["windows/server2022", "windows/vs2022"]),
        ("*", ["base"]),
        ("*/ubuntu", ["linux/ubuntu"]),
        ("windows/vs*", ["windows/vs2022"]),
        # "**" crosses segments.
        (
            "windows/**",
            ["windows/legacy/vs2019", "windows/server2022", "windows/vs2022"],
        ),
        ("**", sorted(IMAGES)),
        ("**/vs2019", ["windows/legacy/vs2019"]),
        ("**/ubuntu", ["linux/ubuntu"]),
        ("linux/**/spark", ["linux/data/spark"]),
        # "?" is one character other than "/".
        ("windows/vs20??", ["windows/vs2022"]),
        ("base?", []),
        # A wildcard pattern ending in "/" takes everything below the folders it matches.
        ("team-*/", ["team-a/tools"]),
        ("*/", [n for n in sorted(IMAGES) if "/" in n]),
        # A wildcard pattern without "/" at the end matches names only.
        ("win*", []),
        # A prefix of a segment is no folder.
        ("win", []),
        ("windows/vs", []),
    ],
)
def test_pattern_matches_table(pattern: str, expected: list[str]) -> None:
    assert pattern_problem(pattern) is None
    matched = sorted(name for name in IMAGES if pattern_matches(pattern, name))
    assert matched == expected


@pytest.mark.parametrize(
    "pattern, problem",
    [
        ("", "empty"),
        ("/windows", "starts with '/'"),
        ("windows/../linux", "contains '..'"),
        ("Windows", "invalid pattern"),
        ("windows//vs2022", "invalid pattern"),
        ("windows/[ab]", "invalid pattern"),
        ("win dows", "invalid pattern"),
    ],
)
def test_pattern_problem_rejects(pattern: str, problem: str) -> None:
    message = pattern_problem(pattern)

    assert message is not None
    assert problem in message


def test_team_lab_exclude_wins() -> None:
    lab = TeamLab(
        name="team-web",
        lab_id=LAB_PREFIX + "dtl-team-web",
        include=["windows", "linux/ubuntu"],
        exclude=["windows/legacy", "linux/ubuntu"],
    )

    received = [name for name in IMAGES if lab.matches(name)]

    assert received == ["windows/vs2022", "windows/server2022"]


def test_team_lab_without_include_receives_nothing() -> None:
    lab = TeamLab(name="empty", lab_id=LAB_PREFIX + "dtl-empty", include=[])

    assert not any(lab.matches(name) for name in IMAGES)
