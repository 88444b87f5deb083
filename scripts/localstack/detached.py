"""A stack left running by an earlier process: find it, describe it, stop it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.localstack.endpoints import read_json_file
from scripts.localstack.processes import is_service_running, stop_detached
from scripts.localstack.stack import (
    DEFAULT_GRACE_SECONDS,
    SERVICES,
    STATE_FILE_NAME,
    LocalStack,
)


def read_state_file(state_dir: Path) -> dict[str, Any] | None:
    """Return the state file that a LocalStack wrote in state_dir, or None."""
    return read_json_file(Path(state_dir) / STATE_FILE_NAME)


def running_services(state_dir: Path) -> dict[str, int]:
    """Return name -> pid of the services recorded in state_dir that still run."""
    state = read_state_file(state_dir) or {}
    return {
        name: int(entry["pid"])
        for name, entry in state.get("processes", {}).items()
        if is_service_running(int(entry["pid"]), entry["argv"])
    }


def stop_detached_stack(
    state_dir: Path, grace_seconds: float = DEFAULT_GRACE_SECONDS
) -> dict[str, tuple[int, bool]] | None:
    """Stop the services that a LocalStack left running in state_dir.

    Returns name -> (pid, whether it was still running and got stopped), or
    None when state_dir has no state file. Removes the state file.
    """
    state = read_state_file(state_dir)
    if state is None:
        return None

    processes = state.get("processes", {})
    results: dict[str, tuple[int, bool]] = {}
    for name in reversed(SERVICES):
        entry = processes.get(name)
        if entry is not None:
            pid = int(entry["pid"])
            results[name] = (pid, stop_detached(pid, entry["argv"], grace_seconds))

    (Path(state_dir) / STATE_FILE_NAME).unlink(missing_ok=True)
    return results


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
