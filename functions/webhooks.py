"""Push webhooks. GitHub signs each delivery; the signature is checked in ``shared``."""

from __future__ import annotations

import azure.functions as func

from functions.http_api import json_response
from shared.context import get_factory
from shared.errors import WebhookError
from shared.webhooks import handle_github

bp = func.Blueprint()


@bp.function_name("webhook_github")
@bp.route(route="webhooks/github", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def webhook_github(req: func.HttpRequest) -> func.HttpResponse:
    headers = {k.lower(): v for k, v in req.headers.items()}
    try:
        result = handle_github(get_factory(), headers, req.get_body())
    except WebhookError as exc:
        return json_response(
            exc.status, {"error": {"code": "InvalidDelivery", "message": str(exc)}}
        )
    return json_response(result.status, result.body)
