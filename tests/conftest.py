"""Session fixtures that start the local services on demand.

Requesting ``azurite`` starts Azurite only; ``emulator`` adds the ARM
emulator; ``stack`` adds the dev host with the function app. Each service
starts once per session, for the first test that requests it, and stops
when the session ends, so unit tests start nothing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# NOTE: the repository is not an installed package, and pytest started as
# .venv/bin/pytest does not put the repository root on sys.path, so the
# imports of scripts, shared and functions need this line.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from scripts.localstack import ConfigRepo, EmulatorInfo, LocalStack  # noqa: E402

EXAMPLE_CONFIG = REPO_ROOT / "examples" / "config-repo"
# Emulator time scale for the test session (wall-clock seconds per emulated
# Azure second); unset keeps the emulator's default.
TIME_SCALE_VARIABLE = "FACTORY_TEST_TIME_SCALE"


@pytest.fixture(scope="session")
def _local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """Return the session's LocalStack with nothing started yet; stop it at the end."""
    time_scale = os.environ.get(TIME_SCALE_VARIABLE)
    stack = LocalStack(
        tmp_path_factory.mktemp("stack"),
        time_scale=float(time_scale) if time_scale else None,
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def azurite(_local_stack: LocalStack) -> str:
    """Return the connection string of a running Azurite."""
    return _local_stack.start_azurite()


@pytest.fixture(scope="session")
def emulator(_local_stack: LocalStack, azurite: str) -> EmulatorInfo:
    """Return the connection details of a running ARM emulator backed by Azurite."""
    return _local_stack.start_emulator()


@pytest.fixture(scope="session")
def config_repo(tmp_path_factory: pytest.TempPathFactory) -> ConfigRepo:
    """Return a git repository whose first commit on main is examples/config-repo.

    The dev host reads this repository. Tests may commit on top of it, so a
    test must not assume that the branch head is the first commit.
    """
    repo, _ = ConfigRepo.create_from(
        EXAMPLE_CONFIG, tmp_path_factory.mktemp("config") / "config-repo"
    )
    return repo


@pytest.fixture(scope="session")
def stack(
    _local_stack: LocalStack, emulator: EmulatorInfo, config_repo: ConfigRepo
) -> LocalStack:
    """Return the whole running stack: Azurite, emulator and the dev host."""
    _local_stack.config_repo = config_repo.path
    _local_stack.start_devhost()
    return _local_stack
