"""A counter of work in progress that shutdown can wait on."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class ActivityCounter:
    """Count the operations in progress and wait until there are none."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = threading.Condition()

    @property
    def active(self) -> int:
        """Number of operations in progress."""
        with self._idle:
            return self._active

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count the operation that runs inside the ``with`` block."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                if self._active == 0:
                    self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no operation is in progress; return False when the timeout passed first."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True
