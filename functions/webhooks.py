"""Push webhooks from GitHub and Azure DevOps; ``shared.webhooks`` authenticates them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import azure.functions as func

from functions.http_api import json_response
from functions.observability import observed
from shared.context import Factory, get_factory
from shared.errors import WebhookError
from shared.webhooks import WebhookResult, handle_azure_devops, handle_github

bp = func.Blueprint()

Handler = Callable[[Factory, Mapping[str, str], bytes], WebhookResult]


@bp.function_name("webhook_github")
@bp.route(route="webhooks/github", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def webhook_github(req: func.HttpRequest) -> func.HttpResponse:
    return _answer("webhook_github", handle_github, req)


@bp.function_name("webhook_azure_devops")
@bp.route(
    route="webhooks/azure-devops", methods=["POST"], auth_level=func.AuthLevel.FUNCTION
)
def webhook_azure_devops(req: func.HttpRequest) -> func.HttpResponse:
    return _answer("webhook_azure_devops", handle_azure_devops, req)


def _answer(
    function: str, handler: Handler, req: func.HttpRequest
) -> func.HttpResponse:
    headers = {k.lower(): v for k, v in req.headers.items()}
    with observed(function):
        try:
            result = handler(get_factory(), headers, req.get_body())
        except WebhookError as exc:
            code = "WebhookNotConfigured" if exc.status == 500 else "InvalidDelivery"
            error = {"code": code, "message": str(exc)}
            return json_response(exc.status, {"error": error})
    return json_response(result.status, result.body)
