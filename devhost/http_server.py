"""The dev host's HTTP server: reads requests, passes them to the dispatcher and writes the replies."""

from __future__ import annotations

import logging
import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from devhost.activity import ActivityCounter
from devhost.http_dispatch import (
    HttpDispatcher,
    IncomingRequest,
    MalformedRequestError,
    OutgoingResponse,
    RequestTooLargeError,
    text_response,
)

logger = logging.getLogger(__name__)

# The Functions host limits a request to 100 MB (104857600 bytes) by default.
DEFAULT_MAX_REQUEST_BYTES = 104_857_600
_CHUNK_LINE_LIMIT = 1024
_KEY_IN_QUERY = re.compile(r"([?&]code=)[^&\s]+", re.IGNORECASE)


class DevHostHttpServer(ThreadingHTTPServer):
    """A threading HTTP server that runs each request on its own daemon thread."""

    daemon_threads = True

    def __init__(
        self, host: str, port: int, dispatcher: HttpDispatcher, max_request_bytes: int
    ) -> None:
        if ":" in host:
            self.address_family = socket.AF_INET6
        self.dispatcher = dispatcher
        self.max_request_bytes = max_request_bytes
        self.requests_in_progress = ActivityCounter()
        self.stopping = False
        super().__init__((host, port), _RequestHandler)

    @property
    def port(self) -> int:
        """The port the server listens on, which the OS chooses when port 0 was requested."""
        return int(self.server_address[1])


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "devhost"

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        self._body_read = False
        if self._server.stopping:
            self.close_connection = True
            self._send(text_response(503, "The host is shutting down"))
            return

        with self._server.requests_in_progress.track():
            response = self._server.dispatcher.dispatch(self._incoming_request())
            self._send(response)

    def _incoming_request(self) -> IncomingRequest:
        split = urlsplit(self.path)
        host = self.headers.get("Host") or f"127.0.0.1:{self._server.port}"
        return IncomingRequest(
            method=self.command,
            path=split.path or "/",
            query=split.query,
            url=f"http://{host}{self.path}",
            headers=list(self.headers.items()),
            read_body=self._read_body,
        )

    @property
    def _server(self) -> DevHostHttpServer:
        return cast(DevHostHttpServer, self.server)

    def _read_body(self) -> bytes:
        """Read the body once, from Content-Length or chunked transfer encoding, within the size limit."""
        limit = self._server.max_request_bytes
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked(limit)
        else:
            length = self._content_length()
            if length > limit:
                raise RequestTooLargeError()
            body = self.rfile.read(length) if length > 0 else b""
        self._body_read = True
        return body

    def _content_length(self) -> int:
        text = self.headers.get("Content-Length") or "0"
        if not text.strip().isdigit():
            raise MalformedRequestError(f"invalid Content-Length {text!r}")
        return int(text)

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(_CHUNK_LINE_LIMIT)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError as exc:
                raise MalformedRequestError(
                    "invalid chunk size in chunked request body"
                ) from exc
            if size == 0:
                while self.rfile.readline(_CHUNK_LINE_LIMIT) not in (
                    b"\r\n",
                    b"\n",
                    b"",
                ):
                    pass  # Skip trailer headers.
                return bytes(body)
            if len(body) + size > limit:
                raise RequestTooLargeError()
            body += self.rfile.read(size)
            self.rfile.readline(_CHUNK_LINE_LIMIT)

    def _send(self, response: OutgoingResponse) -> None:
        if not self._body_read and self._has_body():
            # The unread body would be taken for the next request on this connection.
            self.close_connection = True

        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in (
                "content-length",
                "transfer-encoding",
                "connection",
            ):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _has_body(self) -> bool:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = self.headers.get("Content-Length") or "0"
        return chunked or not length.strip().isdigit() or int(length) > 0

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Send the error for a malformed request as plain text instead of the default HTML page."""
        self.close_connection = True
        self._body_read = True
        response = text_response(code, message or "")
        self.send_response(code)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Log the request line at DEBUG, with the key in a ``code`` query parameter redacted."""
        line = _KEY_IN_QUERY.sub(r"\1REDACTED", format % args)
        logger.debug("%s %s", self.address_string(), line)
