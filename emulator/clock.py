"""The emulator's clock: Azure time that runs faster than wall time.

A real-Azure duration of T seconds takes T x scale seconds of wall time.
Durations and deadlines are kept in emulated ("Azure") seconds, so a change
of the time scale applies at once to every operation in flight.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# One image build (VM create, four artifacts, generalize) takes about
# 1500 Azure seconds, so this default makes it about 12 s of wall time.
DEFAULT_TIME_SCALE = 0.008


class ScaledClock:
    """Map wall time to emulated Azure time at a configurable scale."""

    def __init__(
        self,
        scale: float = DEFAULT_TIME_SCALE,
        *,
        wall: Callable[[], float] = time.time,
        wall_origin: float | None = None,
        emulated_origin: float | None = None,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be greater than 0, got {scale!r}")
        self._wall = wall
        self._lock = threading.Lock()
        self._scale = scale
        self._wall_origin = wall() if wall_origin is None else wall_origin
        self._emulated_origin = (
            self._wall_origin if emulated_origin is None else emulated_origin
        )

    @property
    def scale(self) -> float:
        return self._scale

    def now(self) -> float:
        """Return the emulated time in seconds since the Unix epoch."""
        with self._lock:
            return self._emulated_at(self._wall())

    def set_scale(self, scale: float) -> None:
        """Change the time scale from now on, keeping emulated time continuous."""
        if scale <= 0 or not math.isfinite(scale):
            raise ValueError(
                f"time scale must be a finite number above 0, got {scale!r}"
            )
        with self._lock:
            wall_now = self._wall()
            self._emulated_origin = self._emulated_at(wall_now)
            self._wall_origin = wall_now
            self._scale = scale

    def wall_seconds(self, azure_seconds: float) -> float:
        """Return how long an Azure duration takes in wall time."""
        return azure_seconds * self._scale

    def wall_datetime(self, emulated: float) -> datetime:
        """Return the wall-clock UTC time at which an emulated instant happens."""
        with self._lock:
            wall = self._wall_origin + (emulated - self._emulated_origin) * self._scale
        return datetime.fromtimestamp(wall, UTC)

    def to_state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "scale": self._scale,
                "wall_origin": self._wall_origin,
                "emulated_origin": self._emulated_origin,
            }

    @classmethod
    def from_state(
        cls, state: dict[str, Any], *, scale: float | None = None
    ) -> ScaledClock:
        """Restore a clock, so operations keep running while the emulator was down."""
        clock = cls(
            float(state["scale"]),
            wall_origin=float(state["wall_origin"]),
            emulated_origin=float(state["emulated_origin"]),
        )
        if scale is not None:
            clock.set_scale(scale)
        return clock

    def _emulated_at(self, wall: float) -> float:
        return self._emulated_origin + (wall - self._wall_origin) / self._scale


def iso_utc(moment: datetime) -> str:
    """Format a UTC time the way ARM does, with microseconds and an offset."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def utc_now_iso() -> str:
    return iso_utc(datetime.now(UTC))
