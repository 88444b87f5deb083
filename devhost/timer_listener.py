"""Timer trigger listener: fires a function on its schedule and keeps the schedule status.

The status (Last, Next, LastUpdated) lives in ``STATE_DIR/timers/<function>.json``,
where the Functions host keeps it in a blob. At start, a recorded Next in the
past means an occurrence was missed, and the function runs at once with
``past_due`` set, as the host does.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.functions.timer import TimerRequest

from devhost.indexing import FunctionDefinition, TimerTrigger
from devhost.invocation import FunctionFailedError, Invoker
from devhost.schedule import Schedule, next_interval
from devhost.state import read_json, write_json_atomic

logger = logging.getLogger(__name__)

MONITOR_MINIMUM_INTERVAL = timedelta(minutes=1)
_MAX_WAIT_SECONDS = 60.0


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ScheduleStatus:
    """When the timer last fired, when it fires next, and when this status was computed."""

    last: datetime | None
    next: datetime
    last_updated: datetime | None

    def to_json(self) -> dict[str, str | None]:
        """Return the status with the key names of the host's status blob."""
        return {
            "Last": _format(self.last),
            "Next": _format(self.next),
            "LastUpdated": _format(self.last_updated),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> ScheduleStatus:
        """Parse a status written by ``to_json``; raise ValueError when Next is missing or invalid."""
        next_text = document.get("Next")
        if not next_text:
            raise ValueError("Next is missing")
        return cls(
            _parse(document.get("Last")),
            _parse_required(next_text),
            _parse(document.get("LastUpdated")),
        )


def _format(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse(text: str | None) -> datetime | None:
    return None if not text else _parse_required(text)


def _parse_required(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class TimerStatusStore:
    """Schedule status files in the state directory, one per timer function."""

    def __init__(self, state_dir: Path) -> None:
        self._directory = state_dir / "timers"

    def path(self, function_name: str) -> Path:
        """Return the status file of a function."""
        return self._directory / (
            re.sub(r"[^A-Za-z0-9_.-]", "_", function_name) + ".json"
        )

    def load(self, function_name: str) -> ScheduleStatus | None:
        """Return the recorded status, or None when there is none or it cannot be read."""
        path = self.path(function_name)
        try:
            document = read_json(path)
            return None if document is None else ScheduleStatus.from_json(document)
        except (ValueError, TypeError, AttributeError) as exc:
            logger.warning("ignoring the unreadable timer status %s: %s", path, exc)
            return None

    def save(self, function_name: str, status: ScheduleStatus) -> None:
        """Write the status atomically."""
        write_json_atomic(self.path(function_name), status.to_json())


def reconcile_status(
    schedule: Schedule, status: ScheduleStatus, now: datetime
) -> ScheduleStatus:
    """Return the recorded status, or a new one when the schedule changed since it was recorded.

    Next is recomputed from Last (or LastUpdated). A result that differs from
    the recorded Next means that the schedule changed. A recomputed Next in the
    past then moves after ``now``, because a schedule change alone is not past due.
    """
    basis = status.last or status.last_updated or now
    expected = schedule.next_after(basis)
    if status.next == expected:
        return status

    if now > expected:
        expected = schedule.next_after(now)
        basis = now
    return ScheduleStatus(last=None, next=expected, last_updated=basis)


class TimerListener:
    """Fire one timer function on its schedule from a background thread."""

    def __init__(
        self,
        definition: FunctionDefinition,
        invoker: Invoker,
        store: TimerStatusStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        assert isinstance(definition.trigger, TimerTrigger)
        self.definition = definition
        self._trigger: TimerTrigger = definition.trigger
        self._invoker = invoker
        self._store = store
        self._clock = clock
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"devhost-timer-{definition.name}", daemon=True
        )
        self._monitor = self._uses_monitor()
        self._status = ScheduleStatus(
            None, self._trigger.schedule.next_after(clock()), None
        )
        self._past_due = False

    def _uses_monitor(self) -> bool:
        """Return whether to persist the status: use_monitor (default true) and a minute or more between runs.

        The host disables the monitor of schedules that fire more often than once
        a minute, even when use_monitor is set, by design:
        https://github.com/Azure/azure-webjobs-sdk-extensions/issues/436
        """
        requested = self._trigger.use_monitor is not False
        interval = next_interval(self._trigger.schedule, self._clock())
        return requested and interval >= MONITOR_MINIMUM_INTERVAL

    def start(self) -> None:
        """Load or initialise the status, detect a missed occurrence, and start the timer thread."""
        if self._monitor:
            self._load_status()
        self._thread.start()
        logger.info(
            "timer %s scheduled %r (monitor %s); next occurrence %s",
            self.definition.name,
            self._trigger.schedule_expression,
            "on" if self._monitor else "off",
            self._status.next.isoformat(),
        )

    def stop(self) -> None:
        """Stop firing; an invocation in progress finishes."""
        self._stopping.set()

    def _load_status(self) -> None:
        now = self._clock()
        recorded = self._store.load(self.definition.name)
        if recorded is None:
            self._status = ScheduleStatus(
                None, self._trigger.schedule.next_after(now), now
            )
            self._store.save(self.definition.name, self._status)
            return

        status = reconcile_status(self._trigger.schedule, recorded, now)
        if status != recorded:
            self._store.save(self.definition.name, status)
        self._status = status
        self._past_due = now > status.next

    def _run(self) -> None:
        if self._past_due:
            logger.info(
                "timer %s is past due (missed %s); running it now",
                self.definition.name,
                self._status.next,
            )
            self._fire(past_due=True, scheduled=False)
        elif self._trigger.run_on_startup:
            logger.info(
                "timer %s has run_on_startup; running it now", self.definition.name
            )
            self._fire(past_due=False, scheduled=False)

        while self._wait_until(self._status.next):
            self._fire(past_due=False, scheduled=True)

    def _wait_until(self, moment: datetime) -> bool:
        """Sleep until the moment; return False when the listener stops first."""
        while not self._stopping.is_set():
            remaining = (moment - self._clock()).total_seconds()
            if remaining <= 0:
                return True
            self._stopping.wait(min(remaining, _MAX_WAIT_SECONDS))
        return False

    def _fire(self, *, past_due: bool, scheduled: bool) -> None:
        invoked_at = self._clock()
        request = TimerRequest(
            past_due=past_due,
            schedule_status=self._status.to_json() if self._monitor else {},
            schedule={"AdjustForDST": True},
        )
        detail = f"schedule={self._trigger.schedule_expression!r} past_due={past_due}"
        # The invoker logged any failure; like the host, a failed run does not stop the schedule.
        with contextlib.suppress(FunctionFailedError):
            self._invoker.invoke(self.definition, request, detail)

        # A scheduled run can wake a moment before Next; computing from Next
        # then keeps the same occurrence from being scheduled twice.
        basis = max(invoked_at, self._status.next) if scheduled else invoked_at
        self._status = ScheduleStatus(
            last=basis,
            next=self._trigger.schedule.next_after(basis),
            last_updated=basis,
        )
        if self._monitor:
            self._store.save(self.definition.name, self._status)
