"""Command line: ``python -m scripts.localstack up|down --state-dir DIR``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from scripts.localstack.configrepo import ConfigRepo
from scripts.localstack.detached import (
    describe_running_stack,
    running_services,
    stop_detached_stack,
)
from scripts.localstack.processes import StackError
from scripts.localstack.stack import REPO_ROOT, SERVICES, LocalStack

logger = logging.getLogger(__name__)

DEFAULT_STATE_DIR = Path(".stack")
EXAMPLE_CONFIG = REPO_ROOT / "examples" / "config-repo"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.localstack",
        description="Start or stop Azurite, the ARM emulator and the dev host "
        "on 127.0.0.1.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start the stack and leave it running")
    up.add_argument(
        "--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="data, logs, state"
    )
    up.add_argument(
        "--until",
        choices=SERVICES,
        default="devhost",
        help="start the services up to this one (default: devhost, the whole stack)",
    )
    up.add_argument(
        "--config-repo",
        type=Path,
        help="git repository for FACTORY_CONFIG_REPO (default: STATE_DIR/config-repo, "
        "created from examples/config-repo)",
    )
    up.add_argument("--webhook-secret", help="GitHub webhook secret (default: random)")
    up.add_argument(
        "--time-scale",
        type=float,
        help="emulator time scale: wall-clock seconds per emulated Azure second "
        "(smaller is faster; default: the emulator's)",
    )
    up.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="seconds to wait for each service to start",
    )
    up.add_argument(
        "--foreground",
        action="store_true",
        help="stay in the foreground and stop the stack on Ctrl-C or SIGTERM",
    )

    down = commands.add_parser("down", help="stop a stack that 'up' left running")
    down.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    return parser


def command_up(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    if running_services(state_dir):
        print(
            f"A stack already runs from {state_dir}; stop it first with "
            f"'python -m scripts.localstack down --state-dir {args.state_dir}'",
            file=sys.stderr,
        )
        return 1

    config_repo = args.config_repo
    if config_repo is None and args.until == "devhost":
        config_repo = state_dir / "config-repo"
        if not config_repo.exists():
            ConfigRepo.create_from(EXAMPLE_CONFIG, config_repo)

    stack = LocalStack(
        state_dir,
        config_repo=config_repo,
        webhook_secret=args.webhook_secret,
        time_scale=args.time_scale,
        startup_timeout=args.timeout,
    )
    if not args.foreground:
        stack.start(args.until)
        print(describe_running_stack(stack))
        return 0

    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, request_stop)
    with stack:
        print(describe_running_stack(stack).rsplit("\n", 1)[0])
        print("Press Ctrl-C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            stop_requested.wait()
    print("Local stack stopped.")
    return 0


def command_down(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    results = stop_detached_stack(state_dir)
    if results is None:
        print(f"No stack state in {state_dir}; nothing to stop.")
        return 0

    for name, (pid, stopped) in results.items():
        outcome = "stopped" if stopped else "was not running"
        print(f"{name}: {outcome} (pid {pid})")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        if args.command == "up":
            return command_up(args)
        return command_down(args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
