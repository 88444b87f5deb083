"""Command line: ``python -m emulator --state-dir DIR [options]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from emulator.app import Emulator, EmulatorConfig
from emulator.blobs import DEFAULT_CONNECTION_STRING
from emulator.clock import DEFAULT_TIME_SCALE
from emulator.seed import SeedError

logger = logging.getLogger("emulator")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Serve the Azure Resource Manager and DevTest Labs APIs on loopback "
        "over HTTPS, backed by blobs in Azurite, for tests and the demo.",
    )
    parser.add_argument(
        "--state-dir",
        required=True,
        type=Path,
        help="directory for the CA, secrets, state and connection.json; reuse it to keep state",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="TCP port to listen on; 0 picks a free port (default 0)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=None,
        help="wall seconds per Azure second: an Azure duration of T seconds takes T x scale "
        f"seconds (default {DEFAULT_TIME_SCALE:g}, or the value saved in the state directory)",
    )
    parser.add_argument(
        "--seed-labs",
        type=Path,
        default=None,
        help="YAML file with labs, identities and role assignments",
    )
    parser.add_argument(
        "--storage-connection-string",
        default=DEFAULT_CONNECTION_STRING,
        help="Azurite connection string with AccountKey (default: devstoreaccount1 at 127.0.0.1:10000)",
    )
    parser.add_argument(
        "--random-seed",
        type=int,
        default=1,
        help="seed of the operation durations' spread (default 1)",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="logging level (default INFO)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The Azure SDK logs every HTTP request to Azurite at INFO.
    logging.getLogger("azure").setLevel(logging.WARNING)
    if args.time_scale is not None and args.time_scale <= 0:
        logger.error("--time-scale must be greater than 0, got %s", args.time_scale)
        return 2

    config = EmulatorConfig(
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
        time_scale=args.time_scale,
        seed_labs=args.seed_labs,
        storage_connection_string=args.storage_connection_string,
        random_seed=args.random_seed,
    )
    try:
        emulator = Emulator(config)
    except (SeedError, ValueError, OSError) as exc:
        logger.error("cannot start the emulator: %s", exc)
        return 2

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("received signal %d", signum)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    emulator.start()
    while not stop.wait(1.0):
        pass
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
