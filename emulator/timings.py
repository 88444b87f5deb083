"""How long operations take in Azure, in Azure seconds, with a seeded spread.

The ranges follow what DevTest Labs typically takes: a VM 5-10 minutes,
an artifact 1-4 minutes, sysprep or deprovision with the shutdown and
deallocation 5-10 minutes, a custom image from a VHD 4-5.5 minutes, a VM
delete about 2 minutes, disk access a few seconds.
"""

from __future__ import annotations

import random
import threading

DURATIONS: dict[str, tuple[float, float]] = {
    "vm_create": (300.0, 600.0),
    "artifact": (60.0, 240.0),
    "generalize": (300.0, 600.0),
    "vm_delete": (90.0, 150.0),
    "custom_image_create": (240.0, 330.0),
    "custom_image_delete": (30.0, 60.0),
    "grant_access": (5.0, 15.0),
    "revoke_access": (5.0, 10.0),
}
# Retry-After that long-running operations advertise, in Azure seconds.
POLL_INTERVAL_SECONDS = 15.0


class Timings:
    """Draw operation durations from a generator seeded at start-up."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def sample(self, kind: str) -> float:
        low, high = DURATIONS[kind]
        with self._lock:
            return self._rng.uniform(low, high)

    def digits(self, count: int) -> str:
        """Return random decimal digits, as Azure appends to generated names."""
        with self._lock:
            return "".join(self._rng.choice("0123456789") for _ in range(count))

    def hex(self, count: int) -> str:
        with self._lock:
            return "".join(self._rng.choice("0123456789abcdef") for _ in range(count))
