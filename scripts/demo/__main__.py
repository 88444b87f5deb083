"""Run the factory's main job on a fresh local stack and report the result.

``python -m scripts.demo`` (``make demo``) starts Azurite, the ARM emulator
and the dev host under .demo/stack, creates a configuration repository
from examples/config-repo, sends the signed GitHub push webhook for its
first commit and follows the run. It then checks that every team lab
received a custom image with the same bytes as the VHD in the image store,
prints a report, writes it to .demo/report.json and stops the stack.
Exit status 0 means the run succeeded and every check passed.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

from scripts.demo.content import EmulatorContent, ImageStore
from scripts.demo.progress import ProgressDisplay, RunWaitError, wait_for_run
from scripts.demo.render import render_report
from scripts.demo.report import CheckResult, DemoReport, ExpectedState, build_report
from scripts.localstack import (
    REPO_ROOT,
    CommitInfo,
    ConfigRepo,
    LocalStack,
    StackError,
    describe_running_stack,
    stop_detached_stack,
)
from scripts.localstack.stack import IMAGE_STORE_CONTAINER
from shared.config import ConfigError, load_config_dir
from tests.payloads import ZERO_SHA, encode, github_headers, github_push

logger = logging.getLogger(__name__)

EXAMPLE_CONFIG = REPO_ROOT / "examples" / "config-repo"
DEFAULT_DEMO_DIR = REPO_ROOT / ".demo"
DEFAULT_RUN_TIMEOUT_SECONDS = 90.0


class DemoError(Exception):
    """A step of the demo failed before the run could be checked."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.demo",
        description="Run the image factory once on the local stack and check the result.",
    )
    parser.add_argument(
        "--demo-dir",
        type=Path,
        default=DEFAULT_DEMO_DIR,
        help="directory for the stack, the config repository and report.json "
        "(default: .demo; its previous contents are replaced)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_RUN_TIMEOUT_SECONDS,
        help="seconds to wait for the run to finish (default: %(default)g)",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        help="emulator time scale: wall-clock seconds per emulated Azure second "
        "(smaller is faster; default: the emulator's)",
    )
    parser.add_argument(
        "--keep-running",
        action="store_true",
        help="leave the stack running afterwards and print how to reach it",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        return run_demo(args)
    except KeyboardInterrupt:
        print("\nDemo interrupted; the stack was stopped.", file=sys.stderr)
        return 130


def run_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    demo_dir: Path = args.demo_dir.resolve()
    report_path = demo_dir / "report.json"
    try:
        prepare_demo_dir(demo_dir)
        expected = expected_state(EXAMPLE_CONFIG)
        print(f"Creating the configuration repository in {demo_dir / 'config-repo'}")
        repo, commit = ConfigRepo.create_from(EXAMPLE_CONFIG, demo_dir / "config-repo")
    except (DemoError, OSError) as exc:
        return _fail(report_path, str(exc), started)

    stack = LocalStack(
        demo_dir / "stack", config_repo=repo.path, time_scale=args.time_scale
    )
    keep_running = False
    try:
        print("Starting Azurite, the ARM emulator and the dev host")
        stack.start()
        print(f"  ready after {time.monotonic() - started:.1f} s")
        report = run_and_check(stack, repo, commit, expected, args.timeout)
        report.elapsed_seconds = time.monotonic() - started
        print("\n" + render_report(report))
        _write_json(report_path, report.to_json())
        keep_running = args.keep_running
    except (DemoError, StackError) as exc:
        keep_running = args.keep_running and bool(stack.processes)
        print(f"Logs of the services: {stack.state_dir / 'logs'}", file=sys.stderr)
        return _fail(report_path, str(exc), started)
    finally:
        if keep_running:
            print("\n" + describe_running_stack(stack))
        else:
            stack.stop()

    if not report.passed:
        print(f"\nDemo FAILED; report in {report_path}", file=sys.stderr)
        return 1
    print(f"\nDemo passed in {report.elapsed_seconds:.1f} s; report in {report_path}")
    return 0


def prepare_demo_dir(demo_dir: Path) -> None:
    """Stop a stack that an earlier --keep-running demo left, and clear old output."""
    results = stop_detached_stack(demo_dir / "stack")
    for name, (pid, stopped) in (results or {}).items():
        if stopped:
            print(f"Stopped {name} (pid {pid}) left running by an earlier demo")

    for child in ("stack", "config-repo"):
        shutil.rmtree(demo_dir / child, ignore_errors=True)
    (demo_dir / "report.json").unlink(missing_ok=True)
    demo_dir.mkdir(parents=True, exist_ok=True)


def expected_state(config_dir: Path) -> ExpectedState:
    """Read the images and the (image, team lab) subscriptions of a configuration."""
    try:
        config = load_config_dir(config_dir)
    except ConfigError as exc:
        raise DemoError(
            f"the example configuration in {config_dir} is invalid: {exc}"
        ) from exc

    pairs = [
        (image, lab.name)
        for image in config.images
        for lab in config.subscribers(image)
    ]
    return ExpectedState(images=sorted(config.images), pairs=pairs)


def run_and_check(
    stack: LocalStack,
    repo: ConfigRepo,
    commit: CommitInfo,
    expected: ExpectedState,
    timeout: float,
) -> DemoReport:
    """Send the push webhook, follow the run and check its result."""
    run_id = send_push(stack, repo, commit)
    print(f"Push webhook accepted: run {run_id} for commit {commit.sha[:12]}")

    try:
        body = wait_for_run(
            stack.api(), run_id, timeout=timeout, display=ProgressDisplay(sys.stdout)
        )
    except RunWaitError as exc:
        raise DemoError(str(exc)) from exc

    image_store = ImageStore(stack.storage_connection_string, IMAGE_STORE_CONTAINER)
    custom_images = EmulatorContent(stack.emulator)
    try:
        return build_report(body, expected, image_store, custom_images)
    finally:
        image_store.close()
        custom_images.close()


def send_push(stack: LocalStack, repo: ConfigRepo, commit: CommitInfo) -> str:
    """POST the signed GitHub push event of commit to the webhook; return the run id."""
    payload = github_push(
        ref=repo.ref, before=commit.parent or ZERO_SHA, commits=[commit]
    )
    body = encode(payload)
    headers = github_headers(body, stack.webhook_secret)
    response = stack.api().post("/api/webhooks/github", data=body, headers=headers)

    if response.status_code != 202:
        raise DemoError(
            f"the push webhook returned HTTP {response.status_code}, expected 202: "
            f"{response.text[:500]}"
        )
    try:
        return str(response.json()["run_id"])
    except (ValueError, KeyError) as exc:
        raise DemoError(
            f"the push webhook response has no run_id: {response.text[:500]}"
        ) from exc


def _fail(report_path: Path, reason: str, started: float) -> int:
    elapsed = time.monotonic() - started
    report = DemoReport(
        run={},
        checks=[CheckResult("demo steps", False, reason)],
        elapsed_seconds=elapsed,
    )
    _write_json(report_path, report.to_json())
    print(f"\nDemo FAILED after {elapsed:.1f} s: {reason}", file=sys.stderr)
    return 1


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
