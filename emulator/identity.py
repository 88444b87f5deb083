"""Managed identity tokens and bearer-token checks.

The token endpoint implements the App Service managed identity protocol,
which ``ManagedIdentityCredential`` uses when ``IDENTITY_ENDPOINT`` and
``IDENTITY_HEADER`` are set. A client sends GET with ``resource`` and
``api-version=2019-08-01`` and the secret in the ``X-IDENTITY-HEADER``
header. An optional ``client_id``, ``object_id`` or ``mi_res_id`` selects a
user-assigned identity. Tokens are JWTs signed with HMAC-SHA256 by a key
kept in the state directory, so they stay valid across a restart. The
endpoint issues a token for any resource. ARM accepts only ARM audiences,
and the labs' blob data plane only storage audiences.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulator import errors
from emulator.wire import Principal, Request, Response

logger = logging.getLogger(__name__)

TOKEN_PATH = "/msi/token"
TOKEN_API_VERSION = "2019-08-01"
TOKEN_LIFETIME_SECONDS = 24 * 3600
ARM_AUDIENCES = (
    "https://management.azure.com",
    "https://management.azure.com/",
    "https://management.core.windows.net",
    "https://management.core.windows.net/",
)


class TokenRejectedError(Exception):
    """A bearer token, or its absence, that a request cannot be authenticated with.

    ``reason`` is ``missing``, ``malformed``, ``invalid``, ``expired`` or
    ``audience``. ``detail`` is a short description for a challenge header.
    """

    def __init__(self, reason: str, message: str, detail: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail


_ARM_TOKEN_ERRORS: dict[str, type[errors.ArmError]] = {
    "missing": errors.AuthenticationFailed,
    "malformed": errors.AuthenticationFailed,
    "invalid": errors.InvalidAuthenticationToken,
    "expired": errors.ExpiredAuthenticationToken,
    "audience": errors.InvalidAuthenticationTokenAudience,
}


@dataclass(frozen=True)
class ManagedIdentity:
    name: str
    principal_id: str
    client_id: str | None

    @property
    def system_assigned(self) -> bool:
        return self.client_id is None

    def principal(self) -> Principal:
        return Principal(self.principal_id, self.client_id, self.name)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenService:
    """Issue tokens to managed identities and check the bearer tokens that requests carry."""

    def __init__(
        self,
        signing_key: bytes,
        identity_header: str,
        tenant_id: str,
        identities: Iterable[ManagedIdentity],
    ) -> None:
        self._key = signing_key
        self.identity_header = identity_header
        self.tenant_id = tenant_id
        self.identities = list(identities)

    def handle_token_request(self, request: Request) -> Response:
        """Serve GET /msi/token as App Service does."""
        if request.method != "GET":
            return _token_error(405, f"HTTP method {request.method} is not supported.")

        secret = request.header("x-identity-header") or ""
        if not hmac.compare_digest(secret, self.identity_header):
            return _token_error(
                401, "The X-IDENTITY-HEADER header is missing or invalid."
            )

        if request.query_value("api-version") != TOKEN_API_VERSION:
            return _token_error(400, f"api-version must be {TOKEN_API_VERSION}.")

        resource = request.query_value("resource")
        if not resource:
            return _token_error(400, "The 'resource' query parameter is required.")

        identity = self._select_identity(request)
        if identity is None:
            return _token_error(
                400,
                "No managed identity matches the client_id, object_id or mi_res_id.",
            )

        return Response(200, self.issue(identity, resource))

    def issue(self, identity: ManagedIdentity, resource: str) -> dict[str, Any]:
        now = int(time.time())
        expires_on = now + TOKEN_LIFETIME_SECONDS
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": expires_on,
            "oid": identity.principal_id,
            "sub": identity.principal_id,
            "tid": self.tenant_id,
            "appid": identity.client_id or identity.principal_id,
            "idtyp": "app",
        }
        logger.info("issued a token for %s (audience %s)", identity.name, resource)
        return {
            "access_token": self._sign(claims),
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.client_id or identity.principal_id,
        }

    def authenticate(self, authorization: str | None) -> Principal:
        """Return the principal of an ARM request's bearer token, or raise a 401."""
        try:
            return self.principal_for(authorization, ARM_AUDIENCES)
        except TokenRejectedError as exc:
            raise _ARM_TOKEN_ERRORS[exc.reason](
                exc.message, headers=_challenge(exc.detail)
            ) from exc

    def principal_for(
        self, authorization: str | None, audiences: Iterable[str]
    ) -> Principal:
        """Return the principal of a bearer token issued for one of the audiences.

        Raises TokenRejectedError when the header is missing or malformed, or
        the token is invalid, expired or for another audience.
        """
        if not authorization:
            raise TokenRejectedError(
                "missing",
                "Authentication failed. The 'Authorization' header is missing.",
                "The authentication failed because of missing 'Authorization' header.",
            )

        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise TokenRejectedError(
                "malformed",
                "Authentication failed. The 'Authorization' header is provided in an "
                "invalid format.",
                "The authentication failed because of an invalid format.",
            )

        claims = self._verify(token.strip())
        self._check_claims(claims, tuple(audiences))

        principal_id = str(claims.get("oid", ""))
        for identity in self.identities:
            if identity.principal_id == principal_id:
                return identity.principal()
        return Principal(principal_id, None, "unknown")

    def _select_identity(self, request: Request) -> ManagedIdentity | None:
        client_id = request.query_value("client_id")
        object_id = request.query_value("object_id") or request.query_value(
            "principal_id"
        )
        resource_id = request.query_value("mi_res_id")
        if client_id:
            return next((i for i in self.identities if i.client_id == client_id), None)
        if object_id:
            return next(
                (i for i in self.identities if i.principal_id == object_id), None
            )
        if resource_id:
            name = resource_id.rstrip("/").rsplit("/", 1)[-1]
            return next((i for i in self.identities if i.name == name), None)
        return next((i for i in self.identities if i.system_assigned), None)

    def _sign(self, claims: dict[str, Any]) -> str:
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode("ascii")
        signature = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64url(signature)}"

    def _verify(self, token: str) -> dict[str, Any]:
        invalid = TokenRejectedError(
            "invalid", "The access token is invalid.", "The access token is invalid."
        )
        parts = token.split(".")
        if len(parts) != 3:
            raise invalid

        signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        try:
            signature = _b64url_decode(parts[2])
            claims = json.loads(_b64url_decode(parts[1]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid from exc
        if not hmac.compare_digest(signature, expected) or not isinstance(claims, dict):
            raise invalid
        return claims

    def _check_claims(self, claims: dict[str, Any], audiences: tuple[str, ...]) -> None:
        now = time.time()
        try:
            expires = float(claims.get("exp", 0))
        except (TypeError, ValueError):
            expires = 0
        if expires <= now:
            expired_at = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(expires))
            current = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(now))
            raise TokenRejectedError(
                "expired",
                f"The access token expiry UTC time '{expired_at}' is earlier than "
                f"current UTC time '{current}'.",
                "The access token expired.",
            )

        audience = str(claims.get("aud", ""))
        if audience not in audiences:
            allowed = ",".join(f"'{value}'" for value in audiences)
            raise TokenRejectedError(
                "audience",
                f"The access token has been obtained for wrong audience or resource "
                f"'{audience}'. It should exactly match with one of the allowed "
                f"audiences {allowed}.",
                "The access token has the wrong audience.",
            )


def _challenge(description: str) -> dict[str, str]:
    return {
        "WWW-Authenticate": (
            'Bearer authorization_uri="https://login.windows.net/", '
            f'error="invalid_token", error_description="{description}"'
        )
    }


def _token_error(status: int, message: str) -> Response:
    """Render a token endpoint error in App Service's shape."""
    return Response(status, {"statusCode": status, "message": message})
