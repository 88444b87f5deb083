"""The HTTPS server: TLS, HTTP/1.1 parsing and writing; the front door does the rest."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from emulator.frontdoor import FrontDoor
from emulator.wire import Request, Response

logger = logging.getLogger(__name__)

# Seconds a connection may wait for the TLS handshake or the next request.
CONNECTION_TIMEOUT_SECONDS = 120
# Maximum length of the line that gives a chunk's size, with extensions.
_MAX_CHUNK_LINE_BYTES = 4096


class BodyTooLargeError(Exception):
    """A request body is longer than the front door accepts for its path."""


class InvalidBodyError(Exception):
    """A request body's Content-Length or chunked framing cannot be parsed."""


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        front_door: FrontDoor,
        ssl_context: ssl.SSLContext,
    ) -> None:
        super().__init__(address, RequestHandler)
        self.front_door = front_door
        self.ssl_context = ssl_context

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def get_request(self) -> tuple[Any, Any]:
        # Wrap without the handshake, so that one slow client does not block
        # accept(); each handler thread does its own handshake.
        connection, address = self.socket.accept()
        wrapped = self.ssl_context.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        )
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "connection from %s ended with an error", client_address, exc_info=True
        )


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    def setup(self) -> None:
        self.request.settimeout(CONNECTION_TIMEOUT_SECONDS)
        # Headers and body go out in separate writes; without TCP_NODELAY the
        # second waits for the client's delayed ACK (about 40 ms on Linux).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        try:
            body = self._read_body(self.server.front_door.max_body_bytes(parts.path))
        except BodyTooLargeError:
            self.send_error(413, "Request body too large")
            return
        except InvalidBodyError as exc:
            self.send_error(400, f"Invalid request body: {exc}")
            return

        request = Request(
            method=self.command,
            path=parts.path,
            query={
                key.lower(): value
                for key, value in reversed(
                    parse_qsl(parts.query, keep_blank_values=True)
                )
            },
            headers={key.lower(): value for key, value in self.headers.items()},
            body=body,
            base_url=f"https://{self.headers.get('Host') or self._server_host()}",
            raw_query=parts.query,
            raw_headers=list(self.headers.items()),
        )
        outcome = self.server.front_door.handle(request)
        if outcome.response is None:
            self._drop()
            return

        response = outcome.response
        if response.verbatim:
            self._send_verbatim(response)
            return
        payload = response.encoded_body()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _read_body(self, limit: int) -> bytes:
        """Read the request body, sent with a Content-Length or in chunks."""
        transfer_encoding = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in transfer_encoding:
            return self._read_chunked(limit)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as exc:
            raise InvalidBodyError("the Content-Length is not an integer") from exc
        if length < 0:
            raise InvalidBodyError("the Content-Length is negative")
        if length > limit:
            raise BodyTooLargeError
        return self.rfile.read(length) if length else b""

    def _read_chunked(self, limit: int) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_MAX_CHUNK_LINE_BYTES)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise InvalidBodyError(f"invalid chunk size line {line!r}") from exc
            if size == 0:
                break
            total += size
            if total > limit:
                raise BodyTooLargeError
            chunks.append(self.rfile.read(size))
            self.rfile.readline(_MAX_CHUNK_LINE_BYTES)
        # Trailer fields end with an empty line; the handler ignores them.
        while self.rfile.readline(_MAX_CHUNK_LINE_BYTES) not in (b"\r\n", b"\n", b""):
            pass
        return b"".join(chunks)

    def _send_verbatim(self, response: Response) -> None:
        """Send a response with its own reason phrase and headers, as another server sent it."""
        payload = response.encoded_body()
        head = self.command == "HEAD"
        reason = (response.reason or "").replace("\r", " ").replace("\n", " ")
        self.send_response_only(response.status, reason or None)
        has_length = False
        for name, value in response.headers.items():
            if name.lower() == "content-length":
                if not head:
                    continue
                has_length = True
            self.send_header(name, value)
        if not has_length:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not head and payload:
            self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the connection without a response, as a network failure would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def _server_host(self) -> str:
        return f"127.0.0.1:{self.server.port}"
