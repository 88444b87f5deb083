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
from emulator.wire import Request

logger = logging.getLogger(__name__)

# Seconds a connection may wait for the TLS handshake or the next request.
CONNECTION_TIMEOUT_SECONDS = 120
MAX_BODY_BYTES = 16 * 1024 * 1024


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
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.send_error(413, "Request body too large")
            return
        body = self.rfile.read(length) if length else b""

        parts = urlsplit(self.path)
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
        )
        outcome = self.server.front_door.handle(request)
        if outcome.response is None:
            self._drop()
            return

        response = outcome.response
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

    def _drop(self) -> None:
        """Close the connection without a response, as a network failure would."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)

    def _server_host(self) -> str:
        return f"127.0.0.1:{self.server.port}"
