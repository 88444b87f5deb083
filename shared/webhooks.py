"""Push webhooks from GitHub: verify the signature, filter the ref, start a run.

The run fetches the configuration from the repository URL in the app
settings, never from a URL in the payload, so a forged payload can at most
start a run of the configured repository.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.context import Factory
from shared.errors import RunNotFoundError, WebhookError
from shared.models import Run, Trigger
from shared.pipeline.runs import new_run_id, start_run

logger = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB.
MAX_WEBHOOK_BODY_BYTES = 25 * 1024 * 1024
ZERO_SHA = "0" * 40


@dataclass(frozen=True)
class WebhookResult:
    """The HTTP answer to a delivery."""

    status: int
    body: dict[str, Any]


def github_signature(secret: str, body: bytes) -> str:
    """Return the ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_github_signature(secret: str, body: bytes, header: str | None) -> None:
    """Raise WebhookError (401) unless ``header`` signs ``body`` with ``secret``."""
    if not header:
        raise WebhookError("missing X-Hub-Signature-256 header", status=401)
    if not hmac.compare_digest(github_signature(secret, body), header.strip()):
        raise WebhookError("X-Hub-Signature-256 does not match the payload", status=401)


def handle_github(
    factory: Factory, headers: Mapping[str, str], body: bytes
) -> WebhookResult:
    """Verify and act on one GitHub delivery. ``headers`` keys are lower case."""
    secret = factory.settings.github_webhook_secret
    if not secret:
        logger.error(
            "GitHub delivery rejected: FACTORY_GITHUB_WEBHOOK_SECRET is not set"
        )
        raise WebhookError(
            "the factory has no GitHub webhook secret: set FACTORY_GITHUB_WEBHOOK_SECRET",
            status=500,
        )
    if len(body) > MAX_WEBHOOK_BODY_BYTES:
        raise WebhookError(
            f"payload of {len(body)} bytes is over the 25 MB limit", status=413
        )
    verify_github_signature(secret, body, headers.get("x-hub-signature-256"))

    event = headers.get("x-github-event", "")
    delivery = headers.get("x-github-delivery", "")
    if event == "ping":
        return WebhookResult(200, {"ping": "ok"})
    if event != "push":
        return WebhookResult(202, {"ignored": f"event {event!r} is not a push"})
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookError(f"payload is not valid JSON: {exc}", status=400) from exc
    if not isinstance(payload, dict):
        raise WebhookError("payload is not a JSON object", status=400)
    return _push(factory, payload, delivery)


def _push(factory: Factory, payload: dict[str, Any], delivery: str) -> WebhookResult:
    ref = str(payload.get("ref") or "")
    after = str(payload.get("after") or "")
    branch_ref = f"refs/heads/{factory.settings.config_branch}"
    if payload.get("deleted") or after == ZERO_SHA:
        return WebhookResult(202, {"ignored": f"{ref} was deleted"})
    if ref != branch_ref:
        return WebhookResult(
            202, {"ignored": f"push to {ref}; the factory follows {branch_ref}"}
        )
    if len(after) != 40 or any(c not in "0123456789abcdef" for c in after):
        raise WebhookError(
            f"payload field 'after' is not a commit id: {after!r}", status=400
        )

    pusher = payload.get("pusher") or {}
    run = Run(
        run_id=new_run_id(),
        trigger=Trigger.PUSH,
        ref=ref,
        commit=after,
        requested_by=str(pusher.get("name") or pusher.get("email") or "github"),
        delivery_id=delivery,
    )
    if delivery:
        first = factory.store.claim_delivery("github", delivery, run.run_id)
        if first != run.run_id:
            try:
                factory.store.get_run(first)
                return WebhookResult(202, {"run_id": first, "duplicate": True})
            except RunNotFoundError:
                run.run_id = (
                    first  # the first delivery crashed before its run was written
                )
    start_run(factory, run)
    return WebhookResult(202, {"run_id": run.run_id, "status": str(run.status)})
