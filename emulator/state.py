"""The emulator's mutable state and its file in the state directory.

Backends change the state under ``lock`` and call ``mark_dirty``; a
background thread writes ``state.json`` atomically soon after, and once
more on shutdown. Labs come from the seed at every start; only their
creation dates are kept, so a lab keeps its identity across restarts.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from emulator.compute.models import ManagedDisk
from emulator.devtestlab.models import CustomImage, Lab, VirtualMachine
from emulator.operations import Operation

logger = logging.getLogger(__name__)

STATE_VERSION = 1


class EmulatorState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.labs: dict[str, Lab] = {}
        self.vms: dict[str, VirtualMachine] = {}
        self.images: dict[str, CustomImage] = {}
        self.disks: dict[str, ManagedDisk] = {}
        self.operations: dict[str, Operation] = {}
        self.lab_created: dict[str, str] = {}
        self.clock_state: Callable[[], dict[str, Any]] | None = None
        self._dirty = threading.Event()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def take_dirty(self) -> bool:
        dirty = self._dirty.is_set()
        self._dirty.clear()
        return dirty

    def clear_resources(self) -> None:
        with self.lock:
            self.vms.clear()
            self.images.clear()
            self.disks.clear()
            self.operations.clear()
            self.mark_dirty()

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": STATE_VERSION,
                "clock": None if self.clock_state is None else self.clock_state(),
                "lab_created": dict(self.lab_created),
                "vms": [vm.to_state() for vm in self.vms.values()],
                "images": [image.to_state() for image in self.images.values()],
                "disks": [disk.to_state() for disk in self.disks.values()],
                "operations": [
                    operation.to_state() for operation in self.operations.values()
                ],
            }

    def load_dict(self, data: dict[str, Any]) -> None:
        """Restore resources saved by to_dict, dropping those of labs no longer seeded."""
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {data.get('version')!r}")

        with self.lock:
            self.lab_created = dict(data.get("lab_created", {}))
            for item in data.get("vms", []):
                vm = VirtualMachine.from_state(item)
                if self._lab_known(vm.lab_key, "VM", vm.name):
                    self.vms[f"{vm.lab_key}/virtualmachines/{vm.name.lower()}"] = vm
            for item in data.get("images", []):
                image = CustomImage.from_state(item)
                if self._lab_known(image.lab_key, "custom image", image.name):
                    self.images[
                        f"{image.lab_key}/customimages/{image.name.lower()}"
                    ] = image
            for item in data.get("disks", []):
                disk = ManagedDisk.from_state(item)
                if self._lab_known(disk.lab_key, "disk", disk.name):
                    self.disks[disk.key] = disk
            for item in data.get("operations", []):
                operation = Operation.from_state(item)
                self.operations[operation.id] = operation

    def _lab_known(self, lab_key: str, kind: str, name: str) -> bool:
        if lab_key in self.labs:
            return True
        logger.warning(
            "dropping %s %s of lab %s, which the seed no longer has",
            kind,
            name,
            lab_key,
        )
        return False


class StateFile:
    """Read and atomically write a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} does not contain a JSON object")
        return data

    def save(self, data: dict[str, Any]) -> None:
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(temporary, self.path)


class StateWriter(threading.Thread):
    """Write the state file whenever the state changed, at most every interval."""

    def __init__(
        self, state: EmulatorState, file: StateFile, interval: float = 0.2
    ) -> None:
        super().__init__(name="state-writer", daemon=True)
        self._state = state
        self._file = file
        self._interval = interval
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.wait(self._interval):
            self.flush()

    def flush(self) -> None:
        if not self._state.take_dirty():
            return
        try:
            self._file.save(self._state.to_dict())
        except OSError as exc:
            self._state.mark_dirty()
            logger.error("cannot write the state file %s: %s", self._file.path, exc)

    def stop(self) -> None:
        self._stop_requested.set()
        self.join(timeout=5)
        self._state.mark_dirty()
        self.flush()
