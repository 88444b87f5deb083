"""Checks of docs/deploy.md that run without Azure: shell syntax, JSON examples, links."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from infra_bicep import REPO_ROOT

GUIDE = REPO_ROOT / "docs" / "deploy.md"


def _guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", _guide(), re.DOTALL)


def _anchor(heading: str) -> str:
    """Return the anchor GitHub generates for a Markdown heading."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def test_deploy_guide_has_bash_examples() -> None:
    assert len(_bash_blocks()) >= 10


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    "block", _bash_blocks(), ids=lambda block: block.split("\n")[0][:40]
)
def test_deploy_guide_bash_parses(block: str) -> None:
    result = subprocess.run(
        ["bash", "-n"],
        input=block,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr


def test_deploy_guide_team_lab_example_is_json_array() -> None:
    (example,) = re.findall(r"`(\[\"/subscriptions/[^`]*\])`", _guide())
    lab_ids = json.loads(example)

    assert isinstance(lab_ids, list)
    assert all(lab_id.split("/")[6] == "Microsoft.DevTestLab" for lab_id in lab_ids)


def test_deploy_guide_internal_links_resolve() -> None:
    guide = _guide()
    anchors = {_anchor(h) for h in re.findall(r"^#{1,6} (.+)$", guide, re.MULTILINE)}
    links = set(re.findall(r"\]\(#([^)]+)\)", guide))

    assert links, "expected links between sections"
    assert links - anchors == set()


def test_deploy_guide_uses_the_app_routes() -> None:
    guide = _guide()

    assert "/api/webhooks/github?code=" in guide
    assert "/api/webhooks/azure-devops" in guide
    assert "/api/runs" in guide
    assert "x-factory-secret:" in guide


def test_deploy_guide_function_names_exist() -> None:
    names = set(re.findall(r"--function-name (\w+)", _guide()))
    declared = set()
    for module in (REPO_ROOT / "functions").glob("*.py"):
        declared.update(
            re.findall(r'function_name\("(\w+)"\)', module.read_text("utf-8"))
        )

    assert names, "expected function keys for the webhook functions"
    assert names - declared == set()
