"""HTTP-triggered sample functions, one per auth level plus failure and slow cases."""

from __future__ import annotations

import json
import time

import azure.functions as func

bp = func.Blueprint()


@bp.route(
    route="items/{id:int?}",
    methods=["GET", "POST"],
    auth_level=func.AuthLevel.ANONYMOUS,
)
def echo(req: func.HttpRequest) -> func.HttpResponse:
    document = {
        "method": req.method,
        "url": req.url,
        "route_params": dict(req.route_params),
        "params": dict(req.params),
        "body": req.get_body().decode("utf-8"),
        "header": req.headers.get("x-sample"),
    }
    return func.HttpResponse(
        json.dumps(document), status_code=200, mimetype="application/json"
    )


@bp.route(route="secure/{name}", methods=["GET"])
def secure(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello {req.route_params['name']}")


@bp.route(route="ops/ping", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
def ops_ping(req: func.HttpRequest) -> str:
    return "pong"


@bp.route(route="broken", auth_level=func.AuthLevel.ANONYMOUS)
def broken(req: func.HttpRequest) -> func.HttpResponse:
    raise ValueError("secret detail that must not reach the client")


@bp.route(route="slow", auth_level=func.AuthLevel.ANONYMOUS)
def slow(req: func.HttpRequest) -> func.HttpResponse:
    time.sleep(float(req.params.get("seconds", "1")))
    return func.HttpResponse("done", status_code=201, headers={"X-Slept": "yes"})


@bp.route(route="hello/{name:alpha}", auth_level=func.AuthLevel.ANONYMOUS)
async def hello(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    headers = {
        "X-Invocation-Id": context.invocation_id,
        "X-Function-Name": context.function_name,
    }
    return func.HttpResponse(f"hello {req.route_params['name']}", headers=headers)
