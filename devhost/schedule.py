"""Timer trigger schedules: NCRONTAB expressions and TimeSpan intervals, in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import CroniterError, croniter

from devhost.errors import ConfigurationError, ScheduleError
from devhost.hostconfig import parse_timespan


@dataclass(frozen=True)
class CronSchedule:
    """An NCRONTAB expression with six fields (seconds first) or five fields."""

    expression: str

    def __post_init__(self) -> None:
        fields = self.expression.split()
        if len(fields) not in (5, 6):
            raise ScheduleError(
                f"schedule {self.expression!r} has {len(fields)} fields; NCRONTAB needs six "
                "({second} {minute} {hour} {day} {month} {day-of-week}) or five"
            )
        try:
            self._iterator(datetime(2000, 1, 1).astimezone())
        except (CroniterError, ValueError, KeyError) as exc:
            raise ScheduleError(
                f"schedule {self.expression!r} is not a valid NCRONTAB expression: {exc}"
            ) from exc

    def next_after(self, moment: datetime) -> datetime:
        """Return the first occurrence strictly after ``moment``."""
        result = self._iterator(moment).get_next(datetime)
        assert isinstance(result, datetime)
        return result

    def _iterator(self, start: datetime) -> croniter:
        # NCrontab requires both the day and the day-of-week field to match
        # (CrontabSchedule.GetNextOccurrence in github.com/atifaziz/NCrontab),
        # where classic cron accepts either one, hence day_or=False.
        six_fields = len(self.expression.split()) == 6
        return croniter(
            self.expression, start, day_or=False, second_at_beginning=six_fields
        )


@dataclass(frozen=True)
class IntervalSchedule:
    """A fixed TimeSpan interval such as ``00:05:00``, which the host allows on App Service plans."""

    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        """Return ``moment`` plus the interval."""
        return moment + self.interval


Schedule = CronSchedule | IntervalSchedule


def parse_schedule(text: str) -> Schedule:
    """Parse a timer schedule: a TimeSpan when it contains ':', otherwise NCRONTAB."""
    expression = text.strip()
    if ":" not in expression:
        return CronSchedule(expression)

    try:
        interval = parse_timespan(expression, "schedule")
    except ConfigurationError as exc:
        raise ScheduleError(
            f"schedule {text!r} is neither NCRONTAB nor a valid TimeSpan"
        ) from exc
    if interval <= timedelta(0):
        raise ScheduleError(f"schedule {text!r} must be a positive interval")
    return IntervalSchedule(interval)


def next_interval(schedule: Schedule, start: datetime) -> timedelta:
    """Return the gap between the next two occurrences after ``start``."""
    first = schedule.next_after(start)
    return schedule.next_after(first) - first
