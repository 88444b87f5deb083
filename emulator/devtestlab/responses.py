"""Request handlers for Microsoft.DevTestLab: parse, call the backend, serialise."""

from __future__ import annotations

from emulator.authorization import AccessControl
from emulator.clock import ScaledClock
from emulator.devtestlab.backend import DevTestLabBackend
from emulator.devtestlab.models import Lab
from emulator.devtestlab.render import render_custom_image, render_vm
from emulator.errors import ArmError
from emulator.operations import RUNNING, SUCCEEDED, TERMINAL, Operation
from emulator.throttling import retry_after
from emulator.timings import POLL_INTERVAL_SECONDS
from emulator.wire import Request, Response

LAB_READ = "Microsoft.DevTestLab/labs/read"
_STATUS_CODES = {SUCCEEDED: "OK", "Failed": "BadRequest", "Canceled": "OK"}


def _expand(request: Request) -> tuple[bool, bool]:
    value = (request.query_value("$expand") or "").lower()
    return "artifacts" in value, "computevm" in value


class DevTestLabResponses:
    def __init__(
        self, backend: DevTestLabBackend, access: AccessControl, clock: ScaledClock
    ) -> None:
        self.backend = backend
        self.access = access
        self.clock = clock

    def _lab(self, request: Request) -> Lab:
        params = request.params
        return self.backend.lab(
            params["subscription"], params["resource_group"], params["lab"]
        )

    # Labs

    def list_labs_in_subscription(self, request: Request) -> Response:
        labs = self.backend.list_labs(request.params["subscription"])
        return self._readable_labs(request, labs)

    def list_labs_in_group(self, request: Request) -> Response:
        labs = self.backend.list_labs(
            request.params["subscription"], request.params["resource_group"]
        )
        return self._readable_labs(request, labs)

    def get_lab(self, request: Request) -> Response:
        return Response(200, self._lab(request).to_arm())

    def generate_upload_uri(self, request: Request) -> Response:
        lab = self._lab(request)
        body = request.json_object() if request.body else {}
        blob_name = body.get("blobName")
        uri = self.backend.generate_upload_uri(
            lab, None if blob_name is None else str(blob_name), request.base_url
        )
        return Response(200, {"uploadUri": uri})

    # Virtual machines

    def list_vms(self, request: Request) -> Response:
        lab = self._lab(request)
        artifacts, compute = _expand(request)
        value = [
            render_vm(vm, lab, expand_artifacts=artifacts, expand_compute=compute)
            for vm in self.backend.list_vms(lab)
        ]
        return Response(200, {"value": value})

    def get_vm(self, request: Request) -> Response:
        lab = self._lab(request)
        artifacts, compute = _expand(request)
        vm = self.backend.get_vm(lab, request.params["name"])
        return Response(
            200, render_vm(vm, lab, expand_artifacts=artifacts, expand_compute=compute)
        )

    def create_vm(self, request: Request) -> Response:
        lab = self._lab(request)
        assert request.principal is not None
        vm, created = self.backend.create_or_update_vm(
            lab, request.params["name"], request.json_object(), request.principal
        )
        if not created:
            return Response(200, render_vm(vm, lab))
        operation = self.backend.ctx.state.operations[vm.operation_id]
        return self._started(
            request, 201, render_vm(vm, lab), operation, location=False
        )

    def delete_vm(self, request: Request) -> Response:
        operation = self.backend.delete_vm(self._lab(request), request.params["name"])
        if operation is None:
            return Response(204)
        return self._started(request, 202, None, operation, location=True)

    # Custom images

    def list_custom_images(self, request: Request) -> Response:
        lab = self._lab(request)
        value = [
            render_custom_image(image, lab)
            for image in self.backend.list_custom_images(lab)
        ]
        return Response(200, {"value": value})

    def get_custom_image(self, request: Request) -> Response:
        lab = self._lab(request)
        image = self.backend.get_custom_image(lab, request.params["name"])
        return Response(200, render_custom_image(image, lab))

    def create_custom_image(self, request: Request) -> Response:
        lab = self._lab(request)
        assert request.principal is not None
        image, created = self.backend.create_or_update_custom_image(
            lab,
            request.params["name"],
            request.json_object(),
            request.principal,
            request.base_url,
        )
        if not created:
            return Response(200, render_custom_image(image, lab))
        operation = self.backend.ctx.state.operations[image.operation_id]
        return self._started(
            request, 201, render_custom_image(image, lab), operation, location=False
        )

    def delete_custom_image(self, request: Request) -> Response:
        operation = self.backend.delete_custom_image(
            self._lab(request), request.params["name"]
        )
        if operation is None:
            return Response(204)
        return self._started(request, 202, None, operation, location=True)

    # Artifact sources and artifacts

    def list_artifact_sources(self, request: Request) -> Response:
        return Response(
            200, {"value": self.backend.list_artifact_sources(self._lab(request))}
        )

    def get_artifact_source(self, request: Request) -> Response:
        return Response(
            200,
            self.backend.get_artifact_source(
                self._lab(request), request.params["name"]
            ),
        )

    def list_artifacts(self, request: Request) -> Response:
        artifacts = self.backend.list_artifacts(
            self._lab(request), request.params["source"]
        )
        return Response(200, {"value": artifacts})

    def get_artifact(self, request: Request) -> Response:
        artifact = self.backend.get_artifact(
            self._lab(request), request.params["source"], request.params["name"]
        )
        return Response(200, artifact)

    # Operations

    def get_operation(self, request: Request) -> Response:
        params = request.params
        operation = self.backend.get_operation(
            params["subscription"], params["location"], params["operation"]
        )
        status = RUNNING if operation.status not in TERMINAL else operation.status
        body: dict[str, object] = {
            "status": status,
            "statusCode": _STATUS_CODES.get(status, "Accepted"),
        }
        if operation.error is not None:
            body["error"] = dict(operation.error)
        if status == RUNNING:
            headers = retry_after(self.clock, POLL_INTERVAL_SECONDS)
            return Response(202, body, headers, operation_id=operation.id)
        return Response(200, body, operation_id=operation.id)

    def get_operation_result(self, request: Request) -> Response:
        params = request.params
        operation = self.backend.get_operation(
            params["subscription"], params["location"], params["operation"]
        )
        if operation.status not in TERMINAL:
            headers = {
                "Location": f"{request.base_url}{operation.result_path()}?api-version={operation.api_version}",
                **retry_after(self.clock, POLL_INTERVAL_SECONDS),
            }
            return Response(202, None, headers, operation_id=operation.id)
        if operation.error is not None:
            error = ArmError(operation.error["message"], code=operation.error["code"])
            return Response(error.status, error.to_body(), operation_id=operation.id)
        return Response(204, operation_id=operation.id)

    def _started(
        self,
        request: Request,
        status: int,
        body: object,
        operation: Operation,
        *,
        location: bool,
    ) -> Response:
        headers = operation.headers(request.base_url, self.clock, location=location)
        return Response(status, body, headers, operation_id=operation.id)

    def _readable_labs(self, request: Request, labs: list[Lab]) -> Response:
        """List the labs the caller may read, as ARM filters list results."""
        assert request.principal is not None
        visible = [
            lab.to_arm()
            for lab in labs
            if self.access.is_allowed(request.principal, LAB_READ, [lab.id])
        ]
        return Response(200, {"value": visible})
