"""Command line: ``python -m devhost --app-dir DIR --state-dir DIR``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from devhost.errors import DevHostError
from devhost.host import DEFAULT_MESSAGE_LEASE_SECONDS, DevHost, HostOptions
from devhost.http_server import DEFAULT_MAX_REQUEST_BYTES
from devhost.storage import DEFAULT_QUEUE_API_VERSION

logger = logging.getLogger("devhost")


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m devhost",
        description="Run the Functions app (Python v2 model) on Azurite without Azure Functions Core Tools.",
    )
    parser.add_argument(
        "--app-dir",
        type=Path,
        default=Path("."),
        help="directory of function_app.py and host.json",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        required=True,
        help="directory for keys, timer status and devhost.json",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the HTTP server binds (default 127.0.0.1)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="HTTP port; 0 lets the OS choose a free one (default)",
    )
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    parser.add_argument(
        "--app-module",
        default="function_app",
        help="module that defines the FunctionApp",
    )
    parser.add_argument(
        "--app-attribute",
        default="app",
        help="name of the FunctionApp object in the module",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"maximum request body size in bytes; larger bodies get 413 (default {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=30.0,
        help="seconds that running invocations get to finish after SIGTERM or SIGINT (default 30)",
    )
    parser.add_argument(
        "--message-lease",
        type=int,
        default=DEFAULT_MESSAGE_LEASE_SECONDS,
        help="visibility timeout in seconds of received queue messages, renewed at half time while the "
        f"function runs; after a crash, messages reappear when it ends (default {DEFAULT_MESSAGE_LEASE_SECONDS})",
    )
    parser.add_argument(
        "--queue-api-version",
        default=DEFAULT_QUEUE_API_VERSION,
        help=f"x-ms-version of queue requests (default {DEFAULT_QUEUE_API_VERSION}, which Azurite 3.37 accepts)",
    )
    args = parser.parse_args(argv)

    if args.message_lease < 2:
        parser.error("--message-lease must be at least 2 seconds")
    if args.max_request_bytes < 0:
        parser.error("--max-request-bytes must not be negative")
    return args


def host_options(args: argparse.Namespace) -> HostOptions:
    """Build the HostOptions from the parsed command line."""
    return HostOptions(
        app_dir=args.app_dir,
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        app_module=args.app_module,
        app_attribute=args.app_attribute,
        max_request_bytes=args.max_request_bytes,
        shutdown_grace_seconds=args.shutdown_grace,
        message_lease_seconds=args.message_lease,
        queue_api_version=args.queue_api_version,
    )


def configure_logging(level: str) -> None:
    """Log to stderr at the level.

    The Azure SDKs log every HTTP request at INFO, so their loggers log only
    warnings unless the level is DEBUG.
    """
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger().setLevel(level)
    if level != "DEBUG":
        logging.getLogger("azure").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the dev host until SIGTERM or SIGINT; return the process exit status."""
    args = parse_arguments(argv)
    configure_logging(args.log_level)
    options = host_options(args)
    stop_requested = _install_signal_handlers()
    host = DevHost(options)
    try:
        host.start()
    except (DevHostError, OSError) as exc:
        logger.error("the dev host could not start: %s", exc)
        host.stop()
        return 1

    while not stop_requested.wait(1.0):
        pass
    logger.info("stopping: no new work is accepted, running invocations may finish")
    idle = host.stop()
    if not idle:
        # Worker threads still run user code; exit without joining them.
        logging.shutdown()
        os._exit(0)
    return 0


def _install_signal_handlers() -> threading.Event:
    """Set the returned event on the first SIGTERM or SIGINT; a second one exits at once with status 1."""
    stop_requested = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop_requested.is_set():
            logger.warning(
                "second %s; exiting without waiting", signal.Signals(signum).name
            )
            os._exit(1)
        stop_requested.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop_requested


if __name__ == "__main__":
    sys.exit(main())
