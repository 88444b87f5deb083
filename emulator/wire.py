"""Request and response objects shared by the HTTP server and the handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import InvalidRequestContent


@dataclass(frozen=True)
class Principal:
    """The managed identity that a bearer token was issued to."""

    principal_id: str
    client_id: str | None
    name: str


@dataclass
class Request:
    """One HTTP request, with the path already split from its query.

    ``headers`` has lower-cased names. ``raw_headers`` keeps the names as
    sent and in order, for requests that go on to another server.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str
    raw_query: str = ""
    params: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_value(self, name: str) -> str | None:
        """Return a query parameter; ARM treats their names case-insensitively."""
        return self.query.get(name.lower())

    def json(self) -> Any:
        """Parse the body as JSON or raise the ARM error for invalid content."""
        if not self.body:
            raise InvalidRequestContent(
                "The request content was invalid: the body is empty."
            )
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidRequestContent(
                f"The request content was invalid and could not be deserialized: {exc}."
            ) from exc

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise InvalidRequestContent(
                "The request content was invalid: expected a JSON object."
            )
        return body


@dataclass
class Response:
    """A response that the server serialises, with no content when body is None.

    A ``verbatim`` response goes out with its own reason phrase and exactly
    its headers: the server adds no Content-Type, Cache-Control, Date or
    Server header, and for HEAD it keeps the Content-Length given.
    """

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    operation_id: str | None = None
    verbatim: bool = False
    reason: str | None = None

    def encoded_body(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode("utf-8")
