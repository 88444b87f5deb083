"""Push webhooks from GitHub and Azure DevOps: authenticate, filter the ref, start a run.

GitHub signs each delivery with HMAC-SHA256. Azure DevOps does not sign
payloads; its Web Hooks consumer sends either basic authentication or a
custom header, and the factory compares the secret from either in
constant time.

The run fetches the configuration from the repository URL in the app
settings, never from a URL in the payload, so a forged payload can at most
start a run of the configured repository.
"""

from __future__ import annotations

import base64
import binascii
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
    """HTTP response to a delivery."""

    status: int
    body: dict[str, Any]


def _require_secret(
    secret: str | None, setting: str, provider: str, body: bytes
) -> str:
    """Return the webhook secret; reject a delivery without one configured, or too large."""
    if not secret:
        logger.error("%s delivery rejected: %s is not set", provider, setting)
        raise WebhookError(
            f"the factory has no {provider} webhook secret: set {setting}", status=500
        )
    if len(body) > MAX_WEBHOOK_BODY_BYTES:
        raise WebhookError(
            f"payload of {len(body)} bytes is over the 25 MB limit", status=413
        )
    return secret


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
    secret = _require_secret(
        factory.settings.github_webhook_secret,
        "FACTORY_GITHUB_WEBHOOK_SECRET",
        "GitHub",
        body,
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
    repository = payload.get("repository") or {}
    run = Run(
        run_id=new_run_id(),
        trigger=Trigger.PUSH,
        ref=ref,
        commit=after,
        requested_by=str(pusher.get("name") or pusher.get("email") or "github"),
        delivery_id=delivery,
        repository=str(repository.get("full_name") or ""),
    )
    return _start_once(factory, "github", run)


ADO_SECRET_HEADER = "x-factory-secret"


def verify_ado_secret(secret: str, headers: Mapping[str, str]) -> None:
    """Raise WebhookError (401) unless the delivery carries ``secret``.

    Accepted: the header ``x-factory-secret: <secret>``, or basic
    authentication whose password is the secret (any user name).
    """
    offered = headers.get(ADO_SECRET_HEADER, "")
    authorization = headers.get("authorization", "")
    if not offered and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(
                authorization[6:].strip(), validate=True
            ).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise WebhookError(
                "Authorization header is not valid basic authentication", status=401
            ) from None
        offered = decoded.partition(":")[2]
    if not offered:
        raise WebhookError(
            f"missing credentials: send the header {ADO_SECRET_HEADER} or basic authentication",
            status=401,
        )
    if not hmac.compare_digest(offered.encode(), secret.encode()):
        raise WebhookError("the webhook secret does not match", status=401)


def handle_azure_devops(
    factory: Factory, headers: Mapping[str, str], body: bytes
) -> WebhookResult:
    """Authenticate and act on one Azure DevOps ``git.push`` service hook delivery."""
    secret = _require_secret(
        factory.settings.ado_webhook_secret,
        "FACTORY_ADO_WEBHOOK_SECRET",
        "Azure DevOps",
        body,
    )
    verify_ado_secret(secret, headers)
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise WebhookError(f"payload is not valid JSON: {exc}", status=400) from exc
    if not isinstance(payload, dict):
        raise WebhookError("payload is not a JSON object", status=400)
    event = payload.get("eventType")
    if event != "git.push":
        return WebhookResult(202, {"ignored": f"event {event!r} is not git.push"})

    resource = payload.get("resource") or {}
    branch_ref = f"refs/heads/{factory.settings.config_branch}"
    updates = [u for u in resource.get("refUpdates") or [] if isinstance(u, dict)]
    update = next((u for u in updates if u.get("name") == branch_ref), None)
    if update is None:
        names = ", ".join(str(u.get("name")) for u in updates) or "no refs"
        return WebhookResult(
            202, {"ignored": f"push to {names}; the factory follows {branch_ref}"}
        )
    after = str(update.get("newObjectId") or "")
    if after == ZERO_SHA:
        return WebhookResult(202, {"ignored": f"{branch_ref} was deleted"})
    if len(after) != 40 or any(c not in "0123456789abcdef" for c in after):
        raise WebhookError(
            f"refUpdates newObjectId is not a commit id: {after!r}", status=400
        )

    pushed_by = resource.get("pushedBy") or {}
    run = Run(
        run_id=new_run_id(),
        trigger=Trigger.PUSH,
        ref=branch_ref,
        commit=after,
        requested_by=str(
            pushed_by.get("uniqueName")
            or pushed_by.get("displayName")
            or "azure devops"
        ),
        delivery_id=str(payload.get("id") or ""),
    )
    return _start_once(factory, "azure-devops", run)


def _start_once(factory: Factory, source: str, run: Run) -> WebhookResult:
    """Start ``run`` unless its delivery id started a run before (a redelivery)."""
    if run.delivery_id:
        first = factory.store.claim_delivery(source, run.delivery_id, run.run_id)
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
