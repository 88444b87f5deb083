"""The front door: the steps around every request's handler.

Test controls and requests to a lab's storage account (the blob data
plane, see ``storageplane``) leave here first: they are not ARM requests,
so they are never faulted, throttled or logged. For the rest, the steps
run in ARM's order. Injected faults come first, as a front-end failure
would. Then the token endpoint, routing, api-version, authentication,
throttling and authorization run, and the handler runs under the state
lock. Every error becomes an ARM error body here, and every ARM request
and token request goes to the request log.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from emulator import errors
from emulator.authorization import AccessControl
from emulator.blobs import StorageError
from emulator.clock import ScaledClock, iso_utc
from emulator.faults import FaultInjector, RequestFault
from emulator.identity import TOKEN_PATH, TokenService
from emulator.requestlog import RequestLog, RequestLogEntry
from emulator.routing import Route, Router
from emulator.state import EmulatorState
from emulator.storageplane import StoragePlane
from emulator.throttling import Throttle, retry_after
from emulator.wire import Request, Response

logger = logging.getLogger(__name__)

CONTROL_PREFIX = "/_emulator/"
# Largest body of an ARM request or test control.
MAX_BODY_BYTES = 16 * 1024 * 1024
DEVTESTLAB_API_VERSIONS = ("2018-09-15",)
_FAULT_ERRORS: dict[int, type[errors.ArmError]] = {
    429: errors.SubscriptionRequestsThrottled,
    500: errors.InternalServerError,
    503: errors.ServiceUnavailable,
}
_FAULT_MESSAGES = {
    429: "The request was throttled. Please try again later.",
    500: "The server encountered an internal error. Please retry the request.",
    502: "The gateway did not receive a response from the service.",
    503: "The service is temporarily unavailable. Please retry the request.",
    504: "The gateway did not receive a response within the specified time period.",
}
_FAULT_CODES = {502: "BadGateway", 504: "GatewayTimeout"}


@dataclass
class Outcome:
    """The response to send, or None to drop the connection without one."""

    response: Response | None
    fault: RequestFault | None = None


class FrontDoor:
    def __init__(
        self,
        router: Router,
        controls: Callable[[Request], Response],
        tokens: TokenService,
        access: AccessControl,
        throttle: Throttle,
        faults: FaultInjector,
        request_log: RequestLog,
        clock: ScaledClock,
        state: EmulatorState,
        advance: Callable[[], None],
        storage: StoragePlane,
    ) -> None:
        self.router = router
        self.controls = controls
        self.tokens = tokens
        self.access = access
        self.throttle = throttle
        self.faults = faults
        self.request_log = request_log
        self.clock = clock
        self.state = state
        self.advance = advance
        self.storage = storage

    def max_body_bytes(self, path: str) -> int:
        """Return the largest request body accepted for a path."""
        if self.storage.target(path) is not None:
            return self.storage.max_body_bytes
        return MAX_BODY_BYTES

    def handle(self, request: Request) -> Outcome:
        if request.path.startswith(CONTROL_PREFIX):
            return Outcome(self.controls(request))
        target = self.storage.target(request.path)
        if target is not None:
            return Outcome(self.storage.handle(request, target))

        started = time.time()
        request_id = request.header("x-ms-client-request-id") or str(uuid.uuid4())
        fault = self.faults.for_request(request.method, request.path)
        outcome = self._handle_with_fault(request, fault)
        if outcome.response is not None:
            self._add_standard_headers(request, outcome.response, request_id)
        self._log(request, outcome, request_id, started)
        return outcome

    def _handle_with_fault(
        self, request: Request, fault: RequestFault | None
    ) -> Outcome:
        if fault is None:
            return Outcome(self._dispatch(request))

        logger.info(
            "injecting %s into %s %s (%s)",
            fault.label(),
            request.method,
            request.path,
            fault.rule_id,
        )
        if fault.kind == "slow":
            time.sleep(fault.delay_seconds)
        elif fault.kind == "drop" and not fault.after_handling:
            return Outcome(None, fault)
        elif fault.kind == "error":
            return Outcome(self._fault_response(fault), fault)

        response = self._dispatch(request)
        if fault.kind == "drop":
            return Outcome(None, fault)
        return Outcome(response, fault)

    def _dispatch(self, request: Request) -> Response:
        rate_headers: dict[str, str] = {}
        try:
            if request.path == TOKEN_PATH:
                return self.tokens.handle_token_request(request)
            route, params = self.router.resolve(request.method, request.path)
            request.params = params
            self._check_api_version(request, route)
            request.principal = self.tokens.authenticate(
                request.header("authorization")
            )
            rate_headers = self.throttle.take(params["subscription"], request.method)
            if route.action is not None:
                self.access.check(request.principal, route.action, route.scopes(params))
            with self.state.lock:
                self.advance()
                response = route.handler(request)
        except errors.ArmError as exc:
            response = error_response(exc)
        except StorageError as exc:
            logger.error(
                "blob storage failed during %s %s: %s",
                request.method,
                request.path,
                exc,
            )
            response = error_response(
                errors.InternalServerError(
                    f"The emulator's blob storage (Azurite) failed: {exc}"
                )
            )
        except Exception:
            logger.exception("unhandled error in %s %s", request.method, request.path)
            response = error_response(
                errors.InternalServerError(
                    "The emulator failed with an unexpected error. See its log for details."
                )
            )
        for name, value in rate_headers.items():
            response.headers.setdefault(name, value)
        return response

    def _check_api_version(self, request: Request, route: Route) -> None:
        version = request.query_value("api-version")
        if not version:
            raise errors.MissingApiVersionParameter(
                "The api-version query parameter (?api-version=) is required for all requests."
            )
        if (
            route.provider == "Microsoft.DevTestLab"
            and version not in DEVTESTLAB_API_VERSIONS
        ):
            raise errors.NoRegisteredProviderFound(
                f"No registered resource provider found for API version '{version}' of "
                f"namespace 'Microsoft.DevTestLab'. The supported api-versions are "
                f"'{', '.join(DEVTESTLAB_API_VERSIONS)}'."
            )

    def _fault_response(self, fault: RequestFault) -> Response:
        message = fault.message or _FAULT_MESSAGES[fault.status]
        error_class = _FAULT_ERRORS.get(fault.status)
        if error_class is not None:
            error = error_class(message)
        else:
            error = errors.ArmError(
                message, code=_FAULT_CODES[fault.status], status=fault.status
            )
        if fault.status in (429, 503):
            error.headers.update(retry_after(self.clock, fault.retry_after_seconds))
        return error_response(error)

    @staticmethod
    def _add_standard_headers(
        request: Request, response: Response, request_id: str
    ) -> None:
        correlation = request.header("x-ms-correlation-request-id") or request_id
        response.headers.setdefault("x-ms-request-id", request_id)
        response.headers.setdefault("x-ms-correlation-request-id", correlation)
        client_request_id = request.header("x-ms-client-request-id")
        if client_request_id:
            response.headers.setdefault("x-ms-client-request-id", client_request_id)

    def _log(
        self, request: Request, outcome: Outcome, request_id: str, started: float
    ) -> None:
        ended = time.time()
        response = outcome.response
        error_code = None
        if response is not None and isinstance(response.body, dict):
            error = response.body.get("error")
            if isinstance(error, dict):
                error_code = error.get("code")
        self.request_log.append(
            RequestLogEntry(
                request_id=request_id,
                method=request.method,
                path=request.path,
                query=request.raw_query,
                status=None if response is None else response.status,
                start=iso_utc(datetime.fromtimestamp(started, UTC)),
                end=iso_utc(datetime.fromtimestamp(ended, UTC)),
                start_unix=started,
                end_unix=ended,
                duration_ms=round((ended - started) * 1000, 3),
                operation_id=None if response is None else response.operation_id,
                principal=None
                if request.principal is None
                else request.principal.principal_id,
                fault=None if outcome.fault is None else outcome.fault.label(),
                error_code=error_code,
            )
        )


def error_response(error: errors.ArmError) -> Response:
    """Render an ArmError as a response, the one place where error bodies are built."""
    return Response(error.status, error.to_body(), dict(error.headers))
