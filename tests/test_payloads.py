"""Tests of the webhook payload helper."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime

import pytest

from scripts.localstack import CommitInfo
from tests.payloads import (
    ZERO_SHA,
    encode,
    github_headers,
    github_push,
    load_payload,
    sign_github,
)


def _commit(sha: str = "a" * 40, **changes: list[str]) -> CommitInfo:
    return CommitInfo(
        sha=sha,
        tree="b" * 40,
        parent=None,
        message="Add images",
        timestamp=datetime(2026, 12, 4, 15, 30, tzinfo=UTC),
        author_name="Dana Admin",
        author_email="dana@example.com",
        added=changes.get("added", []),
        modified=changes.get("modified", []),
        removed=changes.get("removed", []),
    )


def test_sign_github_documented_vector() -> None:
    # The example from GitHub's "Validating webhook deliveries" page.
    signature = sign_github(b"Hello, World!", "It's a Secret to Everybody")

    assert signature == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_load_payload_returns_fresh_copy() -> None:
    first = load_payload("ping")
    first["zen"] = "changed"

    assert load_payload("ping")["zen"] != "changed"


def test_load_payload_unknown_name_lists_available() -> None:
    with pytest.raises(FileNotFoundError) as raised:
        load_payload("no-such-event")

    assert "no payload 'no-such-event'" in str(raised.value)
    assert "push-new-branch" in str(raised.value)


def test_github_push_new_branch_fields() -> None:
    commit = _commit(added=["images/linux/ubuntu.yaml"], modified=["labs.yaml"])

    payload = github_push(ref="refs/heads/main", commits=[commit])

    assert payload["ref"] == "refs/heads/main"
    assert payload["before"] == ZERO_SHA
    assert payload["after"] == commit.sha
    assert payload["created"] is True
    assert payload["deleted"] is False
    assert payload["head_commit"]["id"] == commit.sha
    assert payload["compare"].endswith(f"/commit/{commit.sha}")


def test_github_push_commit_entries() -> None:
    commit = _commit(added=["a.yaml"], modified=["b.yaml"], removed=["c.yaml"])

    entry = github_push(commits=[commit])["commits"][0]

    assert entry["id"] == commit.sha
    assert entry["tree_id"] == commit.tree
    assert entry["message"] == "Add images"
    assert entry["timestamp"] == "2026-12-04T15:30:00Z"
    assert entry["author"]["email"] == "dana@example.com"
    assert entry["added"] == ["a.yaml"]
    assert entry["modified"] == ["b.yaml"]
    assert entry["removed"] == ["c.yaml"]


def test_github_push_renames_repository() -> None:
    payload = github_push(commits=[_commit()], repository="contoso/golden-images")
    repository = payload["repository"]

    assert repository["full_name"] == "contoso/golden-images"
    assert repository["name"] == "golden-images"
    assert repository["owner"]["login"] == "contoso"
    assert repository["clone_url"] == "https://github.com/contoso/golden-images.git"
    assert repository["default_branch"] == "main"
    assert "Hello-World" not in json.dumps(repository)


def test_github_push_update_compare_url() -> None:
    before = "c" * 40
    payload = github_push(before=before, commits=[_commit()])

    assert payload["created"] is False
    assert payload["compare"].endswith(f"/compare/{'c' * 12}...{'a' * 12}")


def test_github_push_deleted_ref() -> None:
    payload = github_push(ref="refs/heads/old", before="d" * 40, after=ZERO_SHA)

    assert payload["deleted"] is True
    assert payload["created"] is False
    assert payload["commits"] == []
    assert payload["head_commit"] is None


def test_github_headers_sign_body() -> None:
    body = encode(github_push(commits=[_commit()]))

    headers = github_headers(body, "s3cret")

    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Hub-Signature-256"] == f"sha256={expected}"
    assert headers["X-GitHub-Event"] == "push"
    assert uuid.UUID(headers["X-GitHub-Delivery"])
    assert headers["Content-Type"] == "application/json"
