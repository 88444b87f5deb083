"""Start and stop the dev host: settings, indexing, listeners, HTTP server and readiness file."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from devhost.appsettings import apply_local_settings, resolve_storage_connection
from devhost.errors import DevHostError
from devhost.hostconfig import HostConfig, load_host_config
from devhost.http_dispatch import HttpDispatcher
from devhost.http_server import DEFAULT_MAX_REQUEST_BYTES, DevHostHttpServer
from devhost.indexing import (
    FunctionDefinition,
    HttpTrigger,
    QueueTrigger,
    TimerTrigger,
    index_functions,
    load_app,
)
from devhost.invocation import Invoker
from devhost.keys import HostKeys, load_keys
from devhost.queue_listener import QueueListener, poison_queue_name
from devhost.state import write_json_atomic
from devhost.storage import DEFAULT_QUEUE_API_VERSION, create_queue_client
from devhost.timer_listener import TimerListener, TimerStatusStore

logger = logging.getLogger(__name__)

READINESS_FILE = "devhost.json"

# The Storage queue extension receives with a 10-minute visibility timeout
# and renews it at half time while the function runs.
DEFAULT_MESSAGE_LEASE_SECONDS = 600


@dataclass(frozen=True)
class HostOptions:
    """Command line options of the dev host."""

    app_dir: Path
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    app_module: str = "function_app"
    app_attribute: str = "app"
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    shutdown_grace_seconds: float = 30.0
    message_lease_seconds: int = DEFAULT_MESSAGE_LEASE_SECONDS
    queue_api_version: str = DEFAULT_QUEUE_API_VERSION


class _Listener(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class DevHost:
    """One run of the dev host, from ``start`` to ``stop``."""

    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self._app_dir = options.app_dir.resolve()
        self._state_dir = options.state_dir.resolve()
        self._readiness_path = self._state_dir / READINESS_FILE
        self._invoker: Invoker | None = None
        self._dispatcher: HttpDispatcher | None = None
        self._server: DevHostHttpServer | None = None
        self._listeners: list[_Listener] = []

    def start(self) -> None:
        """Load the app, start the HTTP server and every listener, then write the readiness file.

        Raises DevHostError subclasses for invalid settings, app errors and an
        unreachable queue service.
        """
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._readiness_path.unlink(missing_ok=True)

        apply_local_settings(self._app_dir)
        host_config = load_host_config(self._app_dir)
        os.chdir(self._app_dir)
        app = load_app(
            self._app_dir, self.options.app_module, self.options.app_attribute
        )
        definitions = index_functions(app, host_config)
        for definition in definitions:
            logger.info("loaded %s", _describe(definition, host_config.route_prefix))
        keys = load_keys(self._state_dir)

        self._invoker = Invoker(str(self._app_dir), host_config.function_timeout)
        self._start_http(definitions, host_config, keys)
        self._listeners = self._build_listeners(definitions, host_config)
        for listener in self._listeners:
            listener.start()

        self._write_readiness(definitions, keys)
        logger.info(
            "dev host ready at %s with %d functions", self.base_url, len(definitions)
        )

    @property
    def base_url(self) -> str:
        """The URL that clients use to reach the HTTP server."""
        assert self._server is not None
        host = self.options.host
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self._server.port}"

    def stop(self) -> bool:
        """Stop accepting work and wait, within the grace period, for running invocations.

        Returns False when invocations were still running at the end of the
        grace period; the caller then exits without waiting for their threads.
        """
        self._readiness_path.unlink(missing_ok=True)
        if self._server is not None:
            self._server.stopping = True
            self._server.shutdown()
        for listener in self._listeners:
            listener.stop()

        idle = self._wait_idle(time.monotonic() + self.options.shutdown_grace_seconds)
        if self._server is not None:
            self._server.server_close()
        if self._dispatcher is not None:
            self._dispatcher.close()
        if self._invoker is not None:
            self._invoker.close()
        logger.info(
            "dev host stopped%s", "" if idle else " with invocations still running"
        )
        return idle

    def _wait_idle(self, deadline: float) -> bool:
        """Wait until queue messages, HTTP requests and invocations are done, or the deadline."""
        waits = [
            listener.wait_idle
            for listener in self._listeners
            if isinstance(listener, QueueListener)
        ]
        if self._server is not None:
            waits.append(self._server.requests_in_progress.wait_idle)
        if self._invoker is not None:
            waits.append(self._invoker.wait_idle)

        idle = True
        for wait in waits:
            idle = wait(max(0.0, deadline - time.monotonic())) and idle
        if not idle:
            active = self._invoker.active_count if self._invoker is not None else 0
            logger.warning(
                "%d invocations still running after the %.0f s shutdown grace period",
                active,
                self.options.shutdown_grace_seconds,
            )
        return idle

    def _start_http(
        self,
        definitions: list[FunctionDefinition],
        host_config: HostConfig,
        keys: HostKeys,
    ) -> None:
        assert self._invoker is not None
        self._dispatcher = HttpDispatcher(
            definitions, host_config.route_prefix, keys, self._invoker
        )
        try:
            self._server = DevHostHttpServer(
                self.options.host,
                self.options.port,
                self._dispatcher,
                self.options.max_request_bytes,
            )
        except OSError as exc:
            raise DevHostError(
                f"cannot listen on {self.options.host}:{self.options.port}: {exc}"
            ) from exc
        threading.Thread(
            target=self._server.serve_forever, name="devhost-http", daemon=True
        ).start()
        if self.options.host not in ("127.0.0.1", "::1", "localhost"):
            logger.warning(
                "listening on %s, not loopback; keys travel over plain HTTP",
                self.options.host,
            )

    def _build_listeners(
        self, definitions: list[FunctionDefinition], host_config: HostConfig
    ) -> list[_Listener]:
        assert self._invoker is not None
        listeners: list[_Listener] = []
        store = TimerStatusStore(self._state_dir)
        for definition in definitions:
            if isinstance(definition.trigger, QueueTrigger):
                listeners.append(
                    self._queue_listener(definition, definition.trigger, host_config)
                )
            elif isinstance(definition.trigger, TimerTrigger):
                listeners.append(TimerListener(definition, self._invoker, store))
        return listeners

    def _queue_listener(
        self,
        definition: FunctionDefinition,
        trigger: QueueTrigger,
        host_config: HostConfig,
    ) -> QueueListener:
        assert self._invoker is not None
        connection_string = resolve_storage_connection(trigger.connection)
        api_version = self.options.queue_api_version
        client = create_queue_client(connection_string, trigger.queue_name, api_version)
        poison_name = poison_queue_name(trigger.queue_name)
        poison_client = (
            None
            if poison_name is None
            else create_queue_client(connection_string, poison_name, api_version)
        )
        return QueueListener(
            definition,
            host_config.queues,
            self._invoker,
            client,
            poison_client,
            self.options.message_lease_seconds,
        )

    def _write_readiness(
        self, definitions: list[FunctionDefinition], keys: HostKeys
    ) -> None:
        document = {
            "base_url": self.base_url,
            "function_key": keys.function_key,
            "master_key": keys.master_key,
            "pid": os.getpid(),
            "functions": [definition.name for definition in definitions],
        }
        write_json_atomic(self._readiness_path, document, private=True)


def _describe(definition: FunctionDefinition, route_prefix: str) -> str:
    """Return a one-line summary of a function's trigger for the start-up log."""
    trigger = definition.trigger
    if isinstance(trigger, QueueTrigger):
        return f"function {definition.name}: queue trigger on {trigger.queue_name}"
    if isinstance(trigger, TimerTrigger):
        return (
            f"function {definition.name}: timer trigger {trigger.schedule_expression!r}"
        )
    assert isinstance(trigger, HttpTrigger)
    methods = ",".join(sorted(trigger.methods)) if trigger.methods else "any method"
    path = "/".join(
        part for part in (route_prefix, trigger.route.template.strip("/")) if part
    )
    return f"function {definition.name}: HTTP {methods} /{path} (auth level {trigger.auth_level})"
