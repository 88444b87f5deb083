"""Webhook handling against Azurite: authentication, ref filters, replay protection."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from shared.context import Factory
from shared.errors import WebhookError
from shared.queues import PLAN_QUEUE, StageMessage
from shared.settings import Settings
from shared.webhooks import github_signature, handle_azure_devops, handle_github
from tests.payloads import encode, github_push, load_payload

pytestmark = pytest.mark.integration

GITHUB_SECRET = "gh-secret"
ADO_SECRET = "ado-secret"
COMMIT = "4b1e9c2d7a8f3e6b5c4d3e2f1a0b9c8d7e6f5a4b"


@pytest.fixture(scope="module")
def factory(azurite: str) -> Factory:
    settings = Settings.from_env(
        {
            "AzureWebJobsStorage": azurite,
            "FACTORY_CONFIG_REPO": "/unused",
            "FACTORY_GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
            "FACTORY_ADO_WEBHOOK_SECRET": ADO_SECRET,
        }
    )
    factory = Factory.from_settings(settings)
    factory.ensure_resources()
    return factory


def github(
    factory: Factory, payload: dict[str, Any], event: str = "push", delivery: str = ""
) -> Any:
    body = encode(payload)
    headers = {
        "x-github-event": event,
        "x-github-delivery": delivery or str(uuid.uuid4()),
        "x-hub-signature-256": github_signature(GITHUB_SECRET, body),
    }
    return handle_github(factory, headers, body)


def queued_plan_runs(factory: Factory) -> set[str]:
    """Read the plan queue as the Functions host does: base64 text, decoded by hand."""
    client = factory.storage.queues.get_queue_client(PLAN_QUEUE)
    messages = client.peek_messages(32)
    return {
        StageMessage.from_json(base64.b64decode(m.content)).run_id for m in messages
    }


def test_github_push_to_main_starts_run(factory: Factory) -> None:
    result = github(factory, github_push(after=COMMIT))
    assert result.status == 202
    run = factory.store.get_run(result.body["run_id"])
    assert run.commit == COMMIT
    assert run.trigger == "push"
    assert run.run_id in queued_plan_runs(factory)


def test_github_redelivery_returns_first_run(factory: Factory) -> None:
    delivery = str(uuid.uuid4())
    first = github(factory, github_push(after=COMMIT), delivery=delivery)
    second = github(factory, github_push(after=COMMIT), delivery=delivery)
    assert second.body == {"run_id": first.body["run_id"], "duplicate": True}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (github_push(ref="refs/heads/feature", after=COMMIT), "refs/heads/feature"),
        (load_payload("push-tag-deleted"), "deleted"),
    ],
)
def test_github_ignores_other_refs(
    factory: Factory, payload: dict[str, Any], reason: str
) -> None:
    result = github(factory, payload)
    assert result.status == 202
    assert reason in result.body["ignored"]


def test_github_ping_answers_ok(factory: Factory) -> None:
    assert github(factory, load_payload("ping"), event="ping").status == 200


def test_github_rejects_tampered_body(factory: Factory) -> None:
    body = encode(github_push(after=COMMIT))
    headers = {
        "x-github-event": "push",
        "x-hub-signature-256": github_signature(GITHUB_SECRET, body + b" "),
    }
    with pytest.raises(WebhookError) as raised:
        handle_github(factory, headers, body)
    assert raised.value.status == 401


def ado_payload(**ref_updates: str) -> bytes:
    payload = load_payload("git-push", provider="azure-devops")
    payload["id"] = str(uuid.uuid4())
    if ref_updates:
        payload["resource"]["refUpdates"] = [
            {
                "name": name.replace("__", "/"),
                "oldObjectId": "0" * 40,
                "newObjectId": new,
            }
            for name, new in ref_updates.items()
        ]
    return json.dumps(payload).encode()


def test_ado_push_with_secret_header_starts_run(factory: Factory) -> None:
    result = handle_azure_devops(
        factory, {"x-factory-secret": ADO_SECRET}, ado_payload()
    )
    assert result.status == 202
    run = factory.store.get_run(result.body["run_id"])
    assert run.commit == COMMIT
    assert run.requested_by == "dana@contoso.example"


def test_ado_push_with_basic_auth_starts_run(factory: Factory) -> None:
    token = base64.b64encode(f"factory:{ADO_SECRET}".encode()).decode()
    result = handle_azure_devops(
        factory, {"authorization": f"Basic {token}"}, ado_payload()
    )
    assert result.status == 202


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-factory-secret": "wrong"}, {"authorization": "Basic !!!"}],
)
def test_ado_rejects_missing_or_wrong_secret(
    factory: Factory, headers: dict[str, str]
) -> None:
    with pytest.raises(WebhookError) as raised:
        handle_azure_devops(factory, headers, ado_payload())
    assert raised.value.status == 401


def test_ado_picks_main_among_several_ref_updates(factory: Factory) -> None:
    body = ado_payload(refs__heads__feature="a" * 40, refs__heads__main=COMMIT)
    result = handle_azure_devops(factory, {"x-factory-secret": ADO_SECRET}, body)
    assert factory.store.get_run(result.body["run_id"]).commit == COMMIT


def test_ado_ignores_deleted_branch(factory: Factory) -> None:
    body = ado_payload(refs__heads__main="0" * 40)
    result = handle_azure_devops(factory, {"x-factory-secret": ADO_SECRET}, body)
    assert "deleted" in result.body["ignored"]
