"""The whole pipeline through the dev host: pushes become custom images in team labs."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from scripts.localstack import ConfigRepo, LocalStack
from tests.e2e.pipeline import send_push as push
from tests.e2e.pipeline import tasks_of, wait_for_run
from tests.payloads import encode, github_headers, github_push

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def first_run(stack: LocalStack, config_repo: ConfigRepo) -> dict[str, Any]:
    """The run of a push of the example configuration (already the repo's first commit)."""
    return wait_for_run(stack, push(stack, config_repo, {}, "Trigger the first build"))


def test_push_builds_every_image(first_run: dict[str, Any]) -> None:
    assert first_run["run"]["status"] == "succeeded", first_run["run"]["error"]
    builds = tasks_of(first_run, "build")
    assert len(builds) >= 4
    assert all(t["status"] == "succeeded" for t in builds)
    assert {t["phase"] for t in builds} == {"captured"}
    assert all(t["vhd_url"] for t in builds)


def test_push_copies_to_every_subscribed_lab(first_run: dict[str, Any]) -> None:
    copies = tasks_of(first_run, "copy")
    labs = {t["lab"] for t in copies}
    assert len(labs) == 3
    assert all(t["status"] == "succeeded" for t in copies)
    assert {t["phase"] for t in copies} == {"in_lab"}
    assert all(t["custom_image_id"] for t in copies)


def test_push_records_versions_and_lab_holdings(
    stack: LocalStack, first_run: dict[str, Any]
) -> None:
    images = stack.api().get("/api/images").json()["images"]
    for build in tasks_of(first_run, "build"):
        versions = images[build["image"]]
        assert versions[0]["version"] == build["version"]
        expected = {
            t["lab"]
            for t in tasks_of(first_run, "copy")
            if t["image"] == build["image"]
        }
        assert len(versions[0]["labs"]) == len(expected)


def test_push_changing_one_image_rebuilds_only_it(
    stack: LocalStack, config_repo: ConfigRepo, first_run: dict[str, Any]
) -> None:
    image = tasks_of(first_run, "build")[0]["image"]
    path = config_repo.path / "images" / f"{image}.yaml"
    text = path.read_text()
    changed = text.replace("description:", "description: Rebuilt -", 1)
    # A description does not change the image's bytes: append a real change.
    changed += "\nrefresh_days: 7\n" if "refresh_days" not in text else ""
    run_id = push(
        stack, config_repo, {f"images/{image}.yaml": changed}, "Tweak one image"
    )
    data = wait_for_run(stack, run_id)
    assert data["run"]["status"] == "succeeded", data["run"]["error"]
    assert tasks_of(data, "build") == []  # neither changes the content hash

    changed_artifacts = _with_extra_artifact(changed)
    run_id = push(
        stack,
        config_repo,
        {f"images/{image}.yaml": changed_artifacts},
        "Change one image",
    )
    data = wait_for_run(stack, run_id)
    assert data["run"]["status"] == "succeeded", data["run"]["error"]
    assert [t["image"] for t in tasks_of(data, "build")] == [image]
    assert {t["image"] for t in tasks_of(data, "copy")} == {image}


def test_push_without_image_change_builds_nothing(
    stack: LocalStack, config_repo: ConfigRepo, first_run: dict[str, Any]
) -> None:
    run_id = push(stack, config_repo, {"NOTES.md": "notes\n"}, "Add notes")
    data = wait_for_run(stack, run_id)
    assert data["run"]["status"] == "succeeded"
    assert data["tasks"] == []


def test_push_with_invalid_config_fails_at_planning(
    stack: LocalStack, config_repo: ConfigRepo, first_run: dict[str, Any]
) -> None:
    run_id = push(
        stack,
        config_repo,
        {"images/broken.yaml": "description: no os\nos_type: Solaris\n"},
        "Add a broken image",
    )
    data = wait_for_run(stack, run_id)
    assert data["run"]["status"] == "failed"
    assert "images/broken.yaml" in data["run"]["error"]
    assert "os_type" in data["run"]["error"]
    assert data["tasks"] == []
    config_repo.commit({"images/broken.yaml": None}, "Remove the broken image")


def test_webhook_rejects_bad_signature(stack: LocalStack) -> None:
    body = encode(github_push(after="a" * 40))
    headers = github_headers(body, "wrong secret")
    before = len(stack.api().get("/api/runs").json()["runs"])
    response = stack.api().post("/api/webhooks/github", data=body, headers=headers)
    assert response.status_code == 401
    assert len(stack.api().get("/api/runs").json()["runs"]) == before


def test_webhook_ping_and_other_branch(stack: LocalStack) -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    ping = stack.api().post(
        "/api/webhooks/github",
        data=body,
        headers=github_headers(body, stack.webhook_secret, event="ping"),
    )
    assert ping.status_code == 200
    body = encode(github_push(ref="refs/heads/feature", after="b" * 40))
    other = stack.api().post(
        "/api/webhooks/github",
        data=body,
        headers=github_headers(body, stack.webhook_secret),
    )
    assert other.status_code == 202
    assert "refs/heads/feature" in other.json()["ignored"]


def test_api_requires_function_key(stack: LocalStack) -> None:
    response = requests.get(f"{stack.base_url}/api/runs", timeout=10)
    assert response.status_code == 401


def _with_extra_artifact(text: str) -> str:
    """Put one more artifact first in an image file's artifact list."""
    if "os_type: Windows" in text:
        extra = "  - name: windows-7zip\n"
    else:
        extra = "  - name: linux-apt-package\n    parameters:\n      packages: jq\n"
    return text.replace("artifacts:\n", "artifacts:\n" + extra, 1)


def test_manual_run_with_unknown_lab_fails(stack: LocalStack) -> None:
    response = stack.api().post("/api/runs", json={"labs": ["team-nope"]})
    assert response.status_code == 202, response.text
    data = wait_for_run(stack, response.json()["run_id"])
    assert data["run"]["status"] == "failed"
    assert "'team-nope' matches no team lab" in data["run"]["error"]
    assert "team-web" in data["run"]["error"]
