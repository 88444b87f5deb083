"""HTTP API: start, list, show, cancel and retry runs; list image versions.

Every route needs a function key.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from functions.observability import observed
from shared import api, telemetry
from shared.context import get_factory
from shared.statuspage import render_status_page

bp = func.Blueprint()


def json_response(status: int, body: dict[str, Any]) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, indent=2), status_code=status, mimetype="application/json"
    )


def requester(req: func.HttpRequest) -> str:
    """Who asked: the signed-in principal behind App Service authentication, if any."""
    return req.headers.get("x-ms-client-principal-name") or "http api"


@bp.function_name("runs_create")
@bp.route(route="runs", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def runs_create(req: func.HttpRequest) -> func.HttpResponse:
    with observed("runs_create"):
        body = req.get_body()
        return json_response(*api.create_run(get_factory(), body, requester(req)))


@bp.function_name("runs_list")
@bp.route(route="runs", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def runs_list(req: func.HttpRequest) -> func.HttpResponse:
    with observed("runs_list"):
        return json_response(*api.list_runs(get_factory(), req.params.get("limit")))


@bp.function_name("runs_show")
@bp.route(route="runs/{run_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def runs_show(req: func.HttpRequest) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    with observed("runs_show", run_id):
        return json_response(*api.show_run(get_factory(), run_id))


@bp.function_name("runs_cancel")
@bp.route(
    route="runs/{run_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION
)
def runs_cancel(req: func.HttpRequest) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    with observed("runs_cancel", run_id):
        factory = get_factory()
        with telemetry.watch_run_end(factory, run_id):
            response = api.cancel(factory, run_id, requester(req))
        return json_response(*response)


@bp.function_name("runs_retry")
@bp.route(
    route="runs/{run_id}/retry", methods=["POST"], auth_level=func.AuthLevel.FUNCTION
)
def runs_retry(req: func.HttpRequest) -> func.HttpResponse:
    run_id = req.route_params["run_id"]
    with observed("runs_retry", run_id):
        return json_response(*api.retry(get_factory(), run_id, requester(req)))


@bp.function_name("status_page")
@bp.route(route="status", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def status_page(req: func.HttpRequest) -> func.HttpResponse:
    with observed("status_page"):
        html = render_status_page(get_factory())
    return func.HttpResponse(
        html, status_code=200, mimetype="text/html", charset="utf-8"
    )


@bp.function_name("images_list")
@bp.route(route="images", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def images_list(req: func.HttpRequest) -> func.HttpResponse:
    with observed("images_list"):
        return json_response(*api.list_images(get_factory()))
