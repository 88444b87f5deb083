"""ARM errors: one class per error code, rendered in one place.

Every failure that reaches a client goes through ``ArmError.to_body``, so
the body is always ``{"error": {"code": ..., "message": ...}}`` and the
Azure SDK maps it to the same exception type it raises against Azure
(401 ClientAuthenticationError, 404 ResourceNotFoundError, 409
ResourceExistsError, others HttpResponseError with the code).

NOTE: Azure documents no list of DevTest Labs validation error codes. The
codes of ``ArtifactNotFound``, ``InvalidArtifactParameter``,
``ArtifactOsTypeMismatch``, ``LabVmCountLimitReached`` and
``LocationMismatch`` are this emulator's names; their HTTP status (400)
matches the service. The other codes are the ones Azure returns.
"""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """An error that the emulator sends as an ARM error response."""

    status: int = 400
    code: str = "BadRequest"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers: dict[str, str] = dict(headers or {})
        self.target = target

    def to_body(self) -> dict[str, Any]:
        """Render the ARM error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


# Authentication and authorization.


class AuthenticationFailed(ArmError):
    status = 401
    code = "AuthenticationFailed"


class InvalidAuthenticationToken(ArmError):
    status = 401
    code = "InvalidAuthenticationToken"


class ExpiredAuthenticationToken(ArmError):
    status = 401
    code = "ExpiredAuthenticationToken"


class InvalidAuthenticationTokenAudience(ArmError):
    status = 401
    code = "InvalidAuthenticationTokenAudience"


class AuthorizationFailed(ArmError):
    status = 403
    code = "AuthorizationFailed"


# Request shape and routing.


class MissingApiVersionParameter(ArmError):
    code = "MissingApiVersionParameter"


class NoRegisteredProviderFound(ArmError):
    code = "NoRegisteredProviderFound"


class InvalidResourceType(ArmError):
    status = 404
    code = "InvalidResourceType"


class MethodNotAllowed(ArmError):
    status = 405
    code = "MethodNotAllowed"


class InvalidRequestContent(ArmError):
    code = "InvalidRequestContent"


class InvalidParameter(ArmError):
    code = "InvalidParameter"


# Resources.


class SubscriptionNotFound(ArmError):
    status = 404
    code = "SubscriptionNotFound"


class ResourceGroupNotFound(ArmError):
    status = 404
    code = "ResourceGroupNotFound"


class ResourceNotFound(ArmError):
    status = 404
    code = "ResourceNotFound"


class Conflict(ArmError):
    status = 409
    code = "Conflict"


class OperationNotAllowed(ArmError):
    status = 409
    code = "OperationNotAllowed"


# DevTest Labs validation.


class InvalidStorageAccountForLab(ArmError):
    code = "InvalidStorageAccountForLab"


class ArtifactNotFound(ArmError):
    code = "ArtifactNotFound"


class InvalidArtifactParameter(ArmError):
    code = "InvalidArtifactParameter"


class ArtifactOsTypeMismatch(ArmError):
    code = "ArtifactOsTypeMismatch"


class LabVmCountLimitReached(ArmError):
    code = "LabVmCountLimitReached"


class LocationMismatch(ArmError):
    code = "LocationMismatch"


# Service health.


class SubscriptionRequestsThrottled(ArmError):
    status = 429
    code = "SubscriptionRequestsThrottled"


class InternalServerError(ArmError):
    status = 500
    code = "InternalServerError"


class ServiceUnavailable(ArmError):
    status = 503
    code = "ServiceUnavailable"


# Test controls.


class InvalidControlRequest(ArmError):
    code = "InvalidControlRequest"


def resource_not_found(
    resource_type: str, name: str, resource_group: str
) -> ResourceNotFound:
    """Build the 404 that ARM returns for a missing resource."""
    return ResourceNotFound(
        f"The Resource '{resource_type}/{name}' under resource group "
        f"'{resource_group}' was not found. For more details please go to "
        "https://aka.ms/ARMResourceNotFoundFix"
    )
