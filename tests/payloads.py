"""Load captured webhook payloads and shape them into the push a test needs.

The payloads live in examples/webhook-payloads/<provider>/<name>.json. The
demo imports this module too, so that both send the same GitHub format.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

PAYLOAD_DIR = Path(__file__).resolve().parents[1] / "examples" / "webhook-payloads"
ZERO_SHA = "0" * 40
# The repository that the captured GitHub payloads were recorded for.
TEMPLATE_REPOSITORY = "Codertocat/Hello-World"
DEFAULT_REPOSITORY = "contoso/image-factory-config"


class PushedCommit(Protocol):
    """A commit as a push event reports it; ConfigRepo's CommitInfo is one."""

    @property
    def sha(self) -> str: ...
    @property
    def tree(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def author_name(self) -> str: ...
    @property
    def author_email(self) -> str: ...
    @property
    def added(self) -> list[str]: ...
    @property
    def modified(self) -> list[str]: ...
    @property
    def removed(self) -> list[str]: ...


def load_payload(name: str, provider: str = "github") -> dict[str, Any]:
    """Return a fresh copy of examples/webhook-payloads/<provider>/<name>.json."""
    path = PAYLOAD_DIR / provider / f"{name}.json"
    if not path.is_file():
        available = sorted(file.stem for file in path.parent.glob("*.json"))
        raise FileNotFoundError(
            f"no payload {name!r} in {path.parent}; available: {available}"
        )
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def github_push(
    *,
    ref: str = "refs/heads/main",
    before: str = ZERO_SHA,
    after: str | None = None,
    commits: Sequence[PushedCommit] = (),
    repository: str = DEFAULT_REPOSITORY,
    default_branch: str = "main",
    pusher: str = "Factory Demo",
) -> dict[str, Any]:
    """Build a GitHub push event from the captured new-branch payload.

    after defaults to the last commit's sha. before equal to ZERO_SHA marks
    a created ref, after equal to ZERO_SHA a deleted one (then commits is
    usually empty and head_commit is null), as GitHub reports them.
    """
    payload = load_payload("push-new-branch")
    template_commit = payload["commits"][0]
    if after is None:
        after = commits[-1].sha if commits else ZERO_SHA

    payload["repository"] = _rename_repository(payload["repository"], repository)
    payload["repository"]["default_branch"] = default_branch
    payload["repository"]["master_branch"] = default_branch
    html_url = payload["repository"]["html_url"]

    entries = [_commit_entry(template_commit, commit, html_url) for commit in commits]
    payload.update(
        ref=ref,
        before=before,
        after=after,
        created=before == ZERO_SHA,
        deleted=after == ZERO_SHA,
        forced=False,
        base_ref=None,
        compare=_compare_url(html_url, before, after),
        commits=entries,
        head_commit=entries[-1] if entries and after != ZERO_SHA else None,
    )
    payload["pusher"] = {
        "name": pusher,
        "email": f"{pusher.lower().replace(' ', '-')}@example.com",
    }
    return payload


def encode(payload: dict[str, Any]) -> bytes:
    """Serialise a payload as the raw request body."""
    return json.dumps(payload).encode("utf-8")


def sign_github(body: bytes, secret: str) -> str:
    """Return the X-Hub-Signature-256 value: 'sha256=' and the hex HMAC of body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def github_headers(
    body: bytes, secret: str, *, event: str = "push", delivery: str | None = None
) -> dict[str, str]:
    """Return the headers GitHub sends with a webhook delivery of body."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/tests",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "109948940",
        "X-Hub-Signature-256": sign_github(body, secret),
    }


def _rename_repository(repository: dict[str, Any], full_name: str) -> dict[str, Any]:
    """Return a copy of repository that names full_name instead of the template."""
    owner, _, name = full_name.partition("/")
    if not owner or not name:
        raise ValueError(f"repository must be 'owner/name', got {full_name!r}")

    text = json.dumps(repository)
    text = text.replace(TEMPLATE_REPOSITORY, full_name)
    renamed: dict[str, Any] = json.loads(text)
    renamed["name"] = name
    renamed["owner"]["login"] = owner
    renamed["owner"]["name"] = owner
    return renamed


def _commit_entry(
    template: dict[str, Any], commit: PushedCommit, html_url: str
) -> dict[str, Any]:
    entry = copy.deepcopy(template)
    person = {
        "name": commit.author_name,
        "email": commit.author_email,
        "username": commit.author_email.split("@", 1)[0],
    }
    entry.update(
        id=commit.sha,
        tree_id=commit.tree,
        distinct=True,
        message=commit.message,
        timestamp=_iso(commit.timestamp),
        url=f"{html_url}/commit/{commit.sha}",
        author=person,
        committer=dict(person),
        added=list(commit.added),
        removed=list(commit.removed),
        modified=list(commit.modified),
    )
    return entry


def _compare_url(html_url: str, before: str, after: str) -> str:
    if before == ZERO_SHA:
        return f"{html_url}/commit/{after}"
    return f"{html_url}/compare/{before[:12]}...{after[:12]}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
