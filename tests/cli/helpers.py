"""Run the imagefactory command line in-process or as the installed console script."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shared.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "config-repo"
BROKEN_DIR = REPO_ROOT / "tests" / "config" / "broken"
SAMPLE_DIR = REPO_ROOT / "tests" / "fixtures" / "original-factory-config"
LAB_PREFIX = (
    "/subscriptions/6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40/resourceGroups/"
    "rg-imagefactory/providers/Microsoft.DevTestLab/labs/"
)
SAMPLE_LAB = "<Name of the DevTest Lab>"


@dataclass
class Result:
    """Exit status and output of one command."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> Result:
    """Run imagefactory in this process with `argv`."""
    status = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return Result(status, captured.out, captured.err)


def console_script() -> Path:
    """Return the imagefactory script that `make setup` installs next to python."""
    script = Path(sys.executable).parent / "imagefactory"
    assert script.is_file(), (
        f"{script} is missing. Run 'make setup', which installs the package "
        "with 'pip install -e .'."
    )
    return script


def run_script(*argv: str | Path, cwd: Path = REPO_ROOT) -> Result:
    """Run the installed console script in a new process."""
    completed = subprocess.run(
        [str(console_script()), *(str(arg) for arg in argv)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
