"""HTTP routing, auth levels, admin endpoints and the conversion to and from azure.functions types."""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import azure.functions as func
from azure.functions.http import HttpRequest
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from devhost.errors import IndexingError
from devhost.indexing import FunctionDefinition, HttpTrigger, QueueTrigger, TimerTrigger
from devhost.invocation import FunctionFailedError, Invoker
from devhost.keys import ADMIN, HostKeys, presented_key

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/admin/"
ADMIN_FUNCTIONS_PREFIX = "/admin/functions/"


class RequestTooLargeError(Exception):
    """The request body is larger than the configured limit."""


class MalformedRequestError(Exception):
    """The request framing is invalid, for example a Content-Length that is not a number."""


@dataclass(frozen=True)
class IncomingRequest:
    """An HTTP request as the server read it; the body is read only on demand."""

    method: str
    path: str
    query: str
    url: str
    headers: Sequence[tuple[str, str]]
    read_body: Callable[[], bytes]

    def header_map(self) -> dict[str, str]:
        """Return the headers by lower-case name, repeated headers joined with commas."""
        combined: dict[str, str] = {}
        for name, value in self.headers:
            key = name.lower()
            combined[key] = f"{combined[key]}, {value}" if key in combined else value
        return combined

    def query_map(self) -> dict[str, str]:
        """Return the query parameters; the first of repeated parameters wins."""
        params: dict[str, str] = {}
        for name, value in parse_qsl(self.query, keep_blank_values=True):
            params.setdefault(name, value)
        return params


@dataclass(frozen=True)
class OutgoingResponse:
    """The status, headers and body to send."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


def text_response(status: int, text: str = "") -> OutgoingResponse:
    """Return a plain text response; an empty text gives an empty body."""
    headers = [("Content-Type", "text/plain; charset=utf-8")] if text else []
    return OutgoingResponse(status, text.encode("utf-8"), headers)


def to_outgoing(result: Any) -> OutgoingResponse:
    """Convert a function's return value as the Python worker does: HttpResponse, str or None."""
    if isinstance(result, func.HttpResponse):
        headers = list(result.headers.items())
        if not any(name.lower() == "content-type" for name, _ in headers):
            mimetype = result.mimetype
            content_type = (
                f"{mimetype}; charset={result.charset}"
                if mimetype.startswith("text/")
                else mimetype
            )
            headers.append(("Content-Type", content_type))
        return OutgoingResponse(result.status_code, result.get_body() or b"", headers)
    if isinstance(result, str):
        return text_response(200, result)
    if result is None:
        # NOTE: 204 for a function that returns nothing is not checked against
        # the Functions host. The app always returns an HttpResponse.
        return OutgoingResponse(204)
    raise TypeError(
        f"an HTTP function must return func.HttpResponse or str, not {type(result).__name__}"
    )


class HttpDispatcher:
    """Route requests to HTTP functions under the route prefix and serve the admin endpoints."""

    def __init__(
        self,
        definitions: Sequence[FunctionDefinition],
        route_prefix: str,
        keys: HostKeys,
        invoker: Invoker,
        admin_workers: int = 4,
    ) -> None:
        self._definitions = {
            definition.name.lower(): definition for definition in definitions
        }
        self._prefix = f"/{route_prefix}" if route_prefix else ""
        self._keys = keys
        self._invoker = invoker
        self._admin_executor = ThreadPoolExecutor(
            admin_workers, thread_name_prefix="devhost-admin"
        )
        self._routes = sorted(
            (
                definition
                for definition in definitions
                if isinstance(definition.trigger, HttpTrigger)
            ),
            key=lambda definition: _trigger(definition).route.precedence,
        )
        if not self._prefix:
            self._reject_admin_routes()

    def _reject_admin_routes(self) -> None:
        for definition in self._routes:
            if (
                _trigger(definition).route.template.strip("/").lower().split("/")[0]
                == "admin"
            ):
                raise IndexingError(
                    f"function {definition.name}: route {_trigger(definition).route.template!r} "
                    "conflicts with the built-in /admin routes"
                )

    def close(self) -> None:
        """Stop accepting admin invocations; those already started keep running."""
        self._admin_executor.shutdown(wait=False)

    def dispatch(self, request: IncomingRequest) -> OutgoingResponse:
        """Return the response to one request; an unexpected error becomes a 500 response."""
        try:
            if request.path.lower().startswith(ADMIN_PREFIX):
                return self._dispatch_admin(request)
            return self._dispatch_function(request)
        except RequestTooLargeError:
            return text_response(413, "Request body too large")
        except MalformedRequestError as exc:
            return text_response(400, str(exc))
        except Exception:
            logger.exception("handling %s %s failed", request.method, request.path)
            return text_response(500, "Internal Server Error")

    def _dispatch_function(self, request: IncomingRequest) -> OutgoingResponse:
        route_path = self._strip_prefix(request.path)
        if route_path is None:
            return OutgoingResponse(404)

        for definition in self._routes:
            trigger = _trigger(definition)
            route_params = trigger.route.match(route_path)
            if route_params is None or (
                trigger.methods is not None and request.method not in trigger.methods
            ):
                continue

            query = request.query_map()
            if not self._keys.authorizes(
                trigger.auth_level, presented_key(request.header_map(), query)
            ):
                return OutgoingResponse(401)
            return self._invoke_http(definition, request, query, route_params)
        return OutgoingResponse(404)

    def _strip_prefix(self, path: str) -> str | None:
        if not self._prefix:
            return path
        if path.lower() == self._prefix.lower():
            return ""
        if path.lower().startswith(self._prefix.lower() + "/"):
            return path[len(self._prefix) :]
        return None

    def _invoke_http(
        self,
        definition: FunctionDefinition,
        request: IncomingRequest,
        query: dict[str, str],
        route_params: dict[str, str],
    ) -> OutgoingResponse:
        http_request = HttpRequest(
            method=request.method,
            url=request.url,
            headers=request.header_map(),
            params=query,
            route_params=route_params,
            body_type="bytes",
            body=request.read_body(),
        )
        try:
            result = self._invoker.invoke(
                definition, http_request, f"method={request.method} path={request.path}"
            )
        except FunctionFailedError:
            return text_response(500, "Internal Server Error")
        return to_outgoing(result)

    def _dispatch_admin(self, request: IncomingRequest) -> OutgoingResponse:
        if not self._keys.authorizes(
            ADMIN, presented_key(request.header_map(), request.query_map())
        ):
            return OutgoingResponse(401)

        path = request.path.rstrip("/")
        if path.lower() == "/admin/host/status" and request.method == "GET":
            return _json_response(200, {"state": "Running"})
        if path.lower().startswith(ADMIN_FUNCTIONS_PREFIX) and request.method == "POST":
            return self._invoke_admin(
                path[len(ADMIN_FUNCTIONS_PREFIX) :], request.read_body()
            )
        return OutgoingResponse(404)

    def _invoke_admin(self, name: str, body: bytes) -> OutgoingResponse:
        """Start a non-HTTP function once in the background, as ``POST /admin/functions/{name}`` does."""
        definition = self._definitions.get(name.lower())
        if definition is None:
            return text_response(404, f"function {name} not found")
        if isinstance(definition.trigger, HttpTrigger):
            return text_response(
                400,
                f"function {definition.name} has an HTTP trigger; call its route instead",
            )

        try:
            document = json.loads(body) if body.strip() else {}
            payload = document.get("input", "") if isinstance(document, dict) else None
        except ValueError:
            payload = None
        if not isinstance(payload, str):
            return text_response(
                400, 'the body must be a JSON object such as {"input": "..."}'
            )

        trigger_value = manual_trigger_value(definition, payload)
        self._admin_executor.submit(self._run_admin, definition, trigger_value)
        return OutgoingResponse(202)

    def _run_admin(self, definition: FunctionDefinition, trigger_value: Any) -> None:
        # The invoker logged any failure with its traceback; nothing retries a manual run.
        with contextlib.suppress(FunctionFailedError):
            self._invoker.invoke(definition, trigger_value, "source=admin")


def manual_trigger_value(definition: FunctionDefinition, payload: str) -> Any:
    """Build the trigger argument of a manual run: a TimerRequest, or a queue message whose body is the input."""
    if isinstance(definition.trigger, TimerTrigger):
        return TimerRequest(
            past_due=False, schedule_status={}, schedule={"AdjustForDST": True}
        )
    assert isinstance(definition.trigger, QueueTrigger)

    body = payload.encode("utf-8")
    if definition.payload_annotation is bytes:
        return body
    if definition.payload_annotation is str:
        return payload
    now = datetime.now(UTC)
    return QueueMessage(
        id=str(uuid.uuid4()),
        body=body,
        dequeue_count=1,
        insertion_time=now,
        time_next_visible=now,
    )


def _trigger(definition: FunctionDefinition) -> HttpTrigger:
    assert isinstance(definition.trigger, HttpTrigger)
    return definition.trigger


def _json_response(status: int, document: Any) -> OutgoingResponse:
    return OutgoingResponse(
        status,
        json.dumps(document).encode("utf-8"),
        [("Content-Type", "application/json")],
    )
