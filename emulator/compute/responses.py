"""Request handlers for Microsoft.Compute disks and their operations."""

from __future__ import annotations

from typing import Any

from emulator.clock import ScaledClock
from emulator.compute.backend import ComputeBackend
from emulator.errors import ArmError
from emulator.operations import IN_PROGRESS, Operation
from emulator.throttling import retry_after
from emulator.timings import POLL_INTERVAL_SECONDS
from emulator.wire import Request, Response


class ComputeResponses:
    def __init__(self, backend: ComputeBackend, clock: ScaledClock) -> None:
        self.backend = backend
        self.clock = clock

    def get_disk(self, request: Request) -> Response:
        params = request.params
        disk = self.backend.get_disk(
            params["subscription"], params["resource_group"], params["disk"]
        )
        return Response(200, disk.to_arm(self.backend.disk_state(disk)))

    def list_disks(self, request: Request) -> Response:
        params = request.params
        disks = self.backend.list_disks(
            params["subscription"], params["resource_group"]
        )
        return Response(
            200,
            {"value": [disk.to_arm(self.backend.disk_state(disk)) for disk in disks]},
        )

    def begin_get_access(self, request: Request) -> Response:
        params = request.params
        disk = self.backend.get_disk(
            params["subscription"], params["resource_group"], params["disk"]
        )
        api_version = request.query_value("api-version") or ""
        operation = self.backend.grant_access(disk, request.json_object(), api_version)
        return self._accepted(request, operation)

    def end_get_access(self, request: Request) -> Response:
        params = request.params
        disk = self.backend.get_disk(
            params["subscription"], params["resource_group"], params["disk"]
        )
        api_version = request.query_value("api-version") or ""
        return self._accepted(request, self.backend.revoke_access(disk, api_version))

    def get_operation(self, request: Request) -> Response:
        """Serve both the Azure-AsyncOperation URL and, with monitor=true, the Location URL."""
        params = request.params
        operation = self.backend.get_operation(
            params["subscription"], params["operation"]
        )
        if (request.query_value("monitor") or "").lower() == "true":
            return self._location_result(request, operation)

        body: dict[str, Any] = {
            "startTime": operation.started,
            "status": operation.status,
            "name": operation.id,
        }
        if operation.ended is not None:
            body["endTime"] = operation.ended
        if operation.status == "Succeeded" and operation.output is not None:
            body["properties"] = {"output": dict(operation.output)}
        if operation.error is not None:
            body["error"] = dict(operation.error)
        headers = (
            retry_after(self.clock, POLL_INTERVAL_SECONDS)
            if operation.status == IN_PROGRESS
            else {}
        )
        return Response(200, body, headers, operation_id=operation.id)

    def _location_result(self, request: Request, operation: Operation) -> Response:
        if operation.status == IN_PROGRESS:
            headers = {
                "Location": f"{request.base_url}{request.path}?{request.raw_query}",
                **retry_after(self.clock, POLL_INTERVAL_SECONDS),
            }
            return Response(202, None, headers, operation_id=operation.id)
        if operation.error is not None:
            error = ArmError(operation.error["message"], code=operation.error["code"])
            return Response(error.status, error.to_body(), operation_id=operation.id)
        return Response(200, operation.output, operation_id=operation.id)

    def _accepted(self, request: Request, operation: Operation) -> Response:
        headers = operation.headers(request.base_url, self.clock, location=True)
        return Response(202, None, headers, operation_id=operation.id)
