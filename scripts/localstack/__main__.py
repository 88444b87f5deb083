"""Command line: ``python -m scripts.localstack up|down --state-dir DIR``."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from scripts.localstack.configrepo import ConfigRepo
from scripts.localstack.processes import StackError, is_service_running, stop_detached
from scripts.localstack.stack import REPO_ROOT, SERVICES, STATE_FILE_NAME, LocalStack

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
    up.add_argument("--time-scale", type=float, help="emulator clock speed-up factor")
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


def describe_running_stack(stack: LocalStack) -> str:
    """Return the addresses of the running services and how to stop them."""
    lines = [f"Local stack is running; state and logs are in {stack.state_dir}"]
    if "azurite" in stack.processes:
        lines.append(f"  Storage:       connection string in {stack.state_file}")
    if "emulator" in stack.processes:
        emulator = stack.emulator
        lines.append(
            f"  ARM emulator:  {emulator.arm_endpoint} (CA bundle {emulator.ca_bundle})"
        )
        lines.append(f"  Controls:      {emulator.control_endpoint}")
    if "devhost" in stack.processes:
        ready_file = stack.state_dir / "devhost" / "devhost.json"
        lines.append(f"  Function app:  {stack.base_url}/api/runs")
        lines.append(
            f"  Function key:  in {ready_file} (function_key), header x-functions-key"
        )
    lines.append(f"  Logs:          {stack.state_dir / 'logs'}")
    lines.append(
        f"Stop it with: python -m scripts.localstack down --state-dir {stack.state_dir}"
    )
    return "\n".join(lines)


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


def running_services(state_dir: Path) -> dict[str, int]:
    """Return name -> pid of the services in state_dir's state file that still run."""
    state = _read_state(state_dir)
    processes = state.get("processes", {}) if state else {}
    return {
        name: int(entry["pid"])
        for name, entry in processes.items()
        if is_service_running(int(entry["pid"]), entry["argv"])
    }


def command_down(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir.resolve()
    state = _read_state(state_dir)
    if state is None:
        print(f"No stack state in {state_dir}; nothing to stop.")
        return 0

    processes = state.get("processes", {})
    for name in reversed(SERVICES):
        entry = processes.get(name)
        if entry is None:
            continue
        stopped = stop_detached(int(entry["pid"]), entry["argv"])
        outcome = "stopped" if stopped else "was not running"
        print(f"{name}: {outcome} (pid {entry['pid']})")

    (state_dir / STATE_FILE_NAME).unlink(missing_ok=True)
    return 0


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((state_dir / STATE_FILE_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data if isinstance(data, dict) else None


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
