"""Forward blob requests to Azurite and return its responses unchanged.

The proxy sends the method, query, body and end-to-end headers on, with
Azurite's own Host, and returns Azurite's status, reason phrase, headers
and body. Hop-by-hop headers (Connection and the fields it names,
Keep-Alive, Transfer-Encoding and the like) describe one connection only,
so they are dropped in both directions, and the server writes its own
framing.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterable
from urllib.parse import urlsplit

from emulator.wire import Response

HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Request headers that the proxy replaces: Azurite gets its own Host, a SAS
# in place of a bearer token, and a Content-Length of the body read.
# BaseHTTPRequestHandler has already sent 100 Continue for an Expect header.
_REPLACED_REQUEST_HEADERS = frozenset(
    {"host", "authorization", "content-length", "expect"}
)
_METHODS_WITH_BODY = frozenset({"PUT", "POST", "PATCH"})
# Seconds to wait for Azurite to connect or to send the next bytes. Azurite
# copies a blob within the request that starts the copy, so this is long.
DEFAULT_TIMEOUT_SECONDS = 120.0


class AzuriteUnavailableError(Exception):
    """Azurite refused the connection, timed out or sent no valid response."""


class AzuriteProxy:
    """Send requests to one Azurite account endpoint, one connection per request."""

    def __init__(self, endpoint: str, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the Azurite endpoint {endpoint!r} is not an HTTP URL")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base_path = parts.path.rstrip("/")
        self.timeout = timeout

    def forward(
        self,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
    ) -> Response:
        """Send a request to ``base_path + path`` and return Azurite's response verbatim.

        ``path`` is already percent-encoded. Raises AzuriteUnavailableError
        when Azurite cannot be reached or breaks off the response.
        """
        target = self.base_path + path + (f"?{query}" if query else "")
        connection = self._connect()
        try:
            connection.putrequest(method, target, skip_accept_encoding=True)
            for name, value in forwarded_request_headers(headers):
                connection.putheader(name, value)
            if body or method in _METHODS_WITH_BODY:
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            answer = connection.getresponse()
            payload = answer.read()
        except (OSError, http.client.HTTPException) as exc:
            raise AzuriteUnavailableError(
                f"{method} {self.scheme}://{self.host}:{self.port}{target.split('?')[0]} "
                f"failed: {exc!r}"
            ) from exc
        finally:
            connection.close()

        return Response(
            answer.status,
            payload,
            returned_response_headers(answer.getheaders()),
            verbatim=True,
            reason=answer.reason,
        )

    def _connect(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)


def _connection_tokens(headers: list[tuple[str, str]]) -> set[str]:
    """Return the header names that Connection headers list as hop-by-hop."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for token in value.split(",")
        if token.strip()
    }


def forwarded_request_headers(
    headers: Iterable[tuple[str, str]],
) -> list[tuple[str, str]]:
    """Return the request headers that go on to Azurite, with their names as sent."""
    items = list(headers)
    dropped = HOP_BY_HOP_HEADERS | _REPLACED_REQUEST_HEADERS | _connection_tokens(items)
    return [(name, value) for name, value in items if name.lower() not in dropped]


def returned_response_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Return Azurite's end-to-end response headers, joining repeated fields with commas."""
    items = list(headers)
    dropped = HOP_BY_HOP_HEADERS | _connection_tokens(items)
    returned: dict[str, str] = {}
    for name, value in items:
        if name.lower() in dropped:
            continue
        returned[name] = f"{returned[name]}, {value}" if name in returned else value
    return returned
