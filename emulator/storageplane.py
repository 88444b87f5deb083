"""The blob data plane of the labs' storage accounts, on the emulator's HTTPS port.

A request whose first path segment is the storage account name of a lab
(``Lab.storage_account_name``) is a blob request to that account, path-style
as Azurite takes them: ``https://HOST:PORT/<account>/<container>[/<blob>]``.
Each account has one container, ``uploads``, whose blobs Azurite keeps in
the lab's ``<prefix>-uploads`` container. The emulator forwards each
request there and returns Azurite's response unchanged. The one exception
is a List Blobs body: it names the lab's account endpoint and ``uploads``
where Azurite names its own, because the storage SDK reads the container
name from it.

A request with a SAS (a ``sig`` query parameter) goes to Azurite as it is,
so Azurite checks the signature, expiry and permissions. A request with a
bearer token needs a token for a storage audience and a role assignment
whose data actions allow the operation at the container, as Azure RBAC
requires. It then goes to Azurite with a short-lived SAS in place of the
token. Errors that the emulator returns itself have Azure Storage's XML
body and ``x-ms-error-code`` header.

NOTE: conditions on role assignments (ABAC), shared key authorization,
user delegation SAS, network rules and operations on the account or on
the container itself (other than reading it and listing its blobs) are
not emulated.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from urllib.parse import unquote
from xml.sax.saxutils import escape

from emulator.authorization import BLOBS, AccessControl
from emulator.blobs import BlobStore, StorageError
from emulator.devtestlab.models import UPLOAD_CONTAINER, Lab
from emulator.identity import TokenRejectedError, TokenService
from emulator.storageproxy import AzuriteProxy, AzuriteUnavailableError
from emulator.wire import Principal, Request, Response

logger = logging.getLogger(__name__)

STORAGE_RESOURCE = "https://storage.azure.com"
# Largest request body: the storage SDK uploads up to 64 MiB in one Put
# Blob by default (max_single_put_size) and larger data in blocks.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Lifetime of the SAS that replaces a bearer token on the way to Azurite.
FORWARD_SAS_LIFETIME = timedelta(minutes=5)
# Seconds between two log messages about an unreachable Azurite.
FAILURE_LOG_INTERVAL_SECONDS = 10.0

_NOT_AUTHORIZED = (
    "This request is not authorized to perform this operation using this permission."
)
_NOT_AUTHENTICATED = (
    "Server failed to authenticate the request. Please refer to the information "
    "in the www-authenticate header."
)
_SERVER_BUSY = (
    "The server is currently unable to receive requests. Please retry your request."
)
_ENUMERATION_RESULTS = re.compile(rb"<EnumerationResults\b[^>]*>")


@dataclass(frozen=True)
class BlobTarget:
    """The lab account, container and blob that a data-plane request addresses.

    ``container`` is empty for a request to the account itself, and
    ``blob_path`` (still percent-encoded) is empty for one to the container.
    """

    lab: Lab
    container: str
    blob_path: str

    @property
    def blob_name(self) -> str:
        return unquote(self.blob_path)


@dataclass(frozen=True)
class BlobPermission:
    """The RBAC data action an operation needs, and the SAS permissions that allow it in Azurite."""

    data_action: str
    sas_permission: str


class BlobRequestError(Exception):
    """A data-plane request that the emulator rejects with an Azure Storage error."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.detail = detail


def split_target(path: str, accounts: Mapping[str, Lab]) -> BlobTarget | None:
    """Return what a request path addresses, or None when it names no lab's account.

    ``accounts`` maps each lab's storage account name to the lab.
    """
    segments = path.lstrip("/").split("/", 2)
    lab = accounts.get(unquote(segments[0]).lower())
    if lab is None:
        return None
    container = unquote(segments[1]) if len(segments) > 1 else ""
    blob_path = segments[2] if len(segments) > 2 else ""
    return BlobTarget(lab, container, blob_path)


def required_permission(
    method: str, target: BlobTarget, comp: str | None
) -> BlobPermission | None:
    """Return what an operation on the upload container needs, or None when it is not emulated."""
    if not target.blob_path:
        if method in ("GET", "HEAD"):
            # List Blobs needs the list permission, Get Container Properties read.
            return BlobPermission(f"{BLOBS}/read", "rl")
        return None
    if comp == "tags":
        if method == "GET":
            return BlobPermission(f"{BLOBS}/tags/read", "t")
        if method == "PUT":
            return BlobPermission(f"{BLOBS}/tags/write", "t")
        return None
    if method in ("GET", "HEAD"):
        return BlobPermission(f"{BLOBS}/read", "r")
    if method == "PUT":
        return BlobPermission(f"{BLOBS}/write", "cw")
    if method == "DELETE":
        return BlobPermission(f"{BLOBS}/delete", "d")
    return None


def rename_listing(body: bytes, service_endpoint: str, container: str) -> bytes:
    """Set the ServiceEndpoint and ContainerName of a List Blobs response body."""
    match = _ENUMERATION_RESULTS.search(body)
    if match is None:
        return body
    tag = _set_attribute(match.group(0), b"ServiceEndpoint", service_endpoint)
    tag = _set_attribute(tag, b"ContainerName", container)
    return body[: match.start()] + tag + body[match.end() :]


def _set_attribute(tag: bytes, name: bytes, value: str) -> bytes:
    quoted = escape(value, {'"': "&quot;"}).encode("utf-8")
    pattern = re.compile(rb"(\b" + name + rb'=")[^"]*(")')
    return pattern.sub(lambda found: found.group(1) + quoted + found.group(2), tag, 1)


def storage_audiences(account: str) -> tuple[str, ...]:
    """Return the token audiences that the blob service of an account accepts."""
    blob_endpoint = f"https://{account}.blob.core.windows.net"
    return (
        STORAGE_RESOURCE,
        f"{STORAGE_RESOURCE}/",
        blob_endpoint,
        f"{blob_endpoint}/",
    )


def container_scope(lab: Lab) -> str:
    """Return the resource id of a lab's upload container, the scope of data-action checks."""
    return (
        f"{lab.storage_account_id}/blobServices/default/containers/{UPLOAD_CONTAINER}"
    )


def storage_error_response(
    error: BlobRequestError, request: Request, request_id: str
) -> Response:
    """Render an error as Azure Storage does: an XML body and the x-ms-error-code header."""
    now = datetime.now(UTC)
    message = (
        f"{error.message}\nRequestId:{request_id}\n"
        f"Time:{now.strftime('%Y-%m-%dT%H:%M:%S.%f')}0Z"
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><Error>'
        f"<Code>{escape(error.code)}</Code><Message>{escape(message)}</Message>"
    )
    if error.detail is not None:
        body += f"<AuthenticationErrorDetail>{escape(error.detail)}</AuthenticationErrorDetail>"
    body += "</Error>"
    headers = {
        "Content-Type": "application/xml",
        "Date": formatdate(now.timestamp(), usegmt=True),
        "x-ms-error-code": error.code,
        "x-ms-request-id": request_id,
        **error.headers,
    }
    for name in ("x-ms-version", "x-ms-client-request-id"):
        value = request.header(name)
        if value:
            headers[name] = value
    return Response(
        error.status,
        body.encode("utf-8"),
        headers,
        verbatim=True,
        reason=error.message,
    )


@dataclass
class _FailureLog:
    """Log a repeated failure at most once per interval, and count the messages skipped."""

    interval: float
    logged_at: float = float("-inf")
    left_out: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, text: str, exc: Exception) -> None:
        now = time.monotonic()
        with self.lock:
            if now - self.logged_at < self.interval:
                self.left_out += 1
                return
            left_out, self.left_out = self.left_out, 0
            self.logged_at = now
        logger.error("%s (%d similar failures not logged): %s", text, left_out, exc)


class StoragePlane:
    """Authenticate, authorize and forward the blob requests to the labs' storage accounts."""

    max_body_bytes = MAX_BODY_BYTES

    def __init__(
        self,
        labs: Callable[[], Iterable[Lab]],
        blobs: BlobStore,
        tokens: TokenService,
        access: AccessControl,
        proxy: AzuriteProxy,
    ) -> None:
        self.labs = labs
        self.blobs = blobs
        self.tokens = tokens
        self.access = access
        self.proxy = proxy
        self._failures = _FailureLog(FAILURE_LOG_INTERVAL_SECONDS)
        self._accounts: dict[str, Lab] = {}

    def target(self, path: str) -> BlobTarget | None:
        """Return what a path addresses when it is a data-plane request, else None."""
        return split_target(path, self._labs_by_account())

    def _labs_by_account(self) -> dict[str, Lab]:
        # Labs come from the seed at start-up and do not change afterwards,
        # so the names are computed once, not for every request.
        labs = list(self.labs())
        if len(labs) != len(self._accounts):
            self._accounts = {lab.storage_account_name: lab for lab in labs}
        return self._accounts

    def handle(self, request: Request, target: BlobTarget) -> Response:
        request_id = str(uuid.uuid4())
        try:
            query = self._authorized_query(request, target)
            self.blobs.ensure_container(target.lab.upload_container)
            response = self._forward(request, target, query)
        except BlobRequestError as exc:
            response = storage_error_response(exc, request, request_id)
        except (AzuriteUnavailableError, StorageError) as exc:
            self._failures.error(
                f"forwarding {request.method} {request.path} to Azurite failed", exc
            )
            error = BlobRequestError(503, "ServerBusy", _SERVER_BUSY)
            response = storage_error_response(error, request, request_id)
        logger.debug("%s %s: %d", request.method, request.path, response.status)
        return response

    def _authorized_query(self, request: Request, target: BlobTarget) -> str:
        """Return the query to send to Azurite: the request's own SAS, or one standing for its token."""
        if request.query_value("sig") is not None:
            _check_container(target)
            return request.raw_query

        principal = self._authenticate(request, target.lab)
        _check_container(target)
        permission = required_permission(
            request.method, target, request.query_value("comp")
        )
        if permission is None:
            raise BlobRequestError(
                501,
                "NotImplemented",
                f"The emulator does not implement {request.method} on the container "
                f"'{UPLOAD_CONTAINER}' itself; it serves blob operations and List Blobs.",
            )
        self._authorize(principal, permission, target)
        sas = self._forward_sas(target, permission)
        return f"{request.raw_query}&{sas}" if request.raw_query else sas

    def _authenticate(self, request: Request, lab: Lab) -> Principal:
        authorization = request.header("authorization")
        challenge = {"WWW-Authenticate": self._challenge()}
        if not authorization:
            raise BlobRequestError(
                401,
                "NoAuthenticationInformation",
                _NOT_AUTHENTICATED,
                headers=challenge,
            )
        audiences = storage_audiences(lab.storage_account_name)
        try:
            return self.tokens.principal_for(authorization, audiences)
        except TokenRejectedError as exc:
            raise BlobRequestError(
                401,
                "InvalidAuthenticationInfo",
                _NOT_AUTHENTICATED,
                headers=challenge,
                detail=exc.message,
            ) from exc

    def _authorize(
        self, principal: Principal, permission: BlobPermission, target: BlobTarget
    ) -> None:
        scope = container_scope(target.lab)
        if self.access.is_data_action_allowed(
            principal, permission.data_action, [scope]
        ):
            return
        logger.info(
            "principal %s has no role with data action %s at %s",
            principal.principal_id,
            permission.data_action,
            scope,
        )
        raise BlobRequestError(403, "AuthorizationPermissionMismatch", _NOT_AUTHORIZED)

    def _forward_sas(self, target: BlobTarget, permission: BlobPermission) -> str:
        container = target.lab.upload_container
        if not target.blob_path:
            return self.blobs.container_sas_token(
                container, permission.sas_permission, FORWARD_SAS_LIFETIME
            )
        return self.blobs.sas_token(
            container,
            target.blob_name,
            permission.sas_permission,
            FORWARD_SAS_LIFETIME,
        )

    def _forward(self, request: Request, target: BlobTarget, query: str) -> Response:
        path = f"/{target.lab.upload_container}"
        if target.blob_path:
            path += f"/{target.blob_path}"
        response = self.proxy.forward(
            request.method, path, query, request.raw_headers, request.body
        )
        is_listing = (
            request.method == "GET"
            and not target.blob_path
            and request.query_value("comp") == "list"
        )
        if is_listing and response.status == 200:
            endpoint = f"{request.base_url}/{target.lab.storage_account_name}/"
            response.body = rename_listing(response.body, endpoint, UPLOAD_CONTAINER)
        return response

    def _challenge(self) -> str:
        authority = f"https://login.microsoftonline.com/{self.tokens.tenant_id}"
        return (
            f"Bearer authorization_uri={authority}/oauth2/authorize, "
            f"resource_id={STORAGE_RESOURCE}"
        )


def _check_container(target: BlobTarget) -> None:
    if not target.container:
        raise BlobRequestError(
            501,
            "NotImplemented",
            "The emulator does not implement operations on a lab's storage account "
            f"itself; address the container '{UPLOAD_CONTAINER}'.",
        )
    if target.container != UPLOAD_CONTAINER:
        raise BlobRequestError(
            404, "ContainerNotFound", "The specified container does not exist."
        )
