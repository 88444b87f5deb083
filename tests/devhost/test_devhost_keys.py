"""Host keys: generation, persistence, environment overrides and auth level checks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from devhost.keys import ADMIN, ANONYMOUS, FUNCTION, HostKeys, load_keys, presented_key

KEYS = HostKeys(function_key="function-key", master_key="master-key")


def test_keys_generated_and_kept(tmp_path: Path) -> None:
    first = load_keys(tmp_path, {})
    second = load_keys(tmp_path, {})

    assert first == second
    assert first.function_key != first.master_key
    assert len(first.function_key) >= 40
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600


def test_keys_environment_overrides_file(tmp_path: Path) -> None:
    stored = load_keys(tmp_path, {})

    keys = load_keys(tmp_path, {"DEVHOST_MASTER_KEY": "from-environment"})

    assert keys.master_key == "from-environment"
    assert keys.function_key == stored.function_key


@pytest.mark.parametrize(
    ("level", "presented", "expected"),
    [
        (ANONYMOUS, None, True),
        (FUNCTION, None, False),
        (FUNCTION, "wrong", False),
        (FUNCTION, "function-key", True),
        (FUNCTION, "master-key", True),
        (ADMIN, "function-key", False),
        (ADMIN, "master-key", True),
    ],
)
def test_keys_authorize_level(
    level: str, presented: str | None, expected: bool
) -> None:
    assert KEYS.authorizes(level, presented) is expected


def test_presented_key_prefers_header() -> None:
    headers = {"X-Functions-Key": "from-header"}

    assert presented_key(headers, {"code": "from-query"}) == "from-header"
    assert presented_key({}, {"code": "from-query"}) == "from-query"
    assert presented_key({}, {}) is None
