"""The services that every backend shares."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.blobs import BlobStore
from emulator.catalog import ArtifactCatalog
from emulator.clock import ScaledClock, iso_utc
from emulator.faults import FaultInjector
from emulator.state import EmulatorState
from emulator.timings import Timings


@dataclass
class Context:
    state: EmulatorState
    clock: ScaledClock
    blobs: BlobStore
    faults: FaultInjector
    catalog: ArtifactCatalog
    timings: Timings
    subscription_id: str

    def wall_iso(self, emulated: float) -> str:
        """Format the wall-clock time of an emulated instant for a response."""
        return iso_utc(self.clock.wall_datetime(emulated))
