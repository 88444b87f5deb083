"""Timer schedules: NCRONTAB parsing, occurrences and the status reconciliation at start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devhost.errors import ScheduleError
from devhost.schedule import (
    CronSchedule,
    IntervalSchedule,
    next_interval,
    parse_schedule,
)
from devhost.timer_listener import ScheduleStatus, reconcile_status

START = datetime(2026, 3, 1, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("*/15 * * * * *", datetime(2026, 3, 1, 10, 0, 15, tzinfo=UTC)),
        ("0 */5 * * * *", datetime(2026, 3, 1, 10, 5, 0, tzinfo=UTC)),
        ("30 9 * * *", datetime(2026, 3, 2, 9, 30, 0, tzinfo=UTC)),
        ("0 0 12 * * MON", datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)),
    ],
)
def test_schedule_next_occurrence(expression: str, expected: datetime) -> None:
    assert parse_schedule(expression).next_after(START) == expected


def test_schedule_day_fields_both_match() -> None:
    # NCRONTAB needs the day of month and the day of week to match together;
    # classic cron would also fire on every Friday.
    friday_the_13th = parse_schedule("0 0 0 13 * 5").next_after(START)

    assert friday_the_13th == datetime(2026, 3, 13, 0, 0, 0, tzinfo=UTC)
    assert friday_the_13th.weekday() == 4


def test_schedule_timespan_is_interval() -> None:
    schedule = parse_schedule("00:05:00")

    assert schedule == IntervalSchedule(timedelta(minutes=5))
    assert schedule.next_after(START) == START + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * *", "has 3 fields"),
        ("61 * * * * *", "not a valid NCRONTAB expression"),
        ("00:00:00", "positive interval"),
        ("12:xx", "neither NCRONTAB nor a valid TimeSpan"),
    ],
)
def test_schedule_rejects_expression(expression: str, message: str) -> None:
    with pytest.raises(ScheduleError) as error:
        parse_schedule(expression)

    assert message in str(error.value)


def test_schedule_next_interval() -> None:
    assert next_interval(CronSchedule("*/10 * * * * *"), START) == timedelta(seconds=10)
    assert next_interval(CronSchedule("0 0 * * * *"), START) == timedelta(hours=1)


def test_reconcile_keeps_unchanged_schedule() -> None:
    schedule = CronSchedule("0 0 * * * *")
    last = datetime(2026, 3, 1, 7, 0, 0, tzinfo=UTC)
    status = ScheduleStatus(last, schedule.next_after(last), last)

    assert reconcile_status(schedule, status, START) == status


def test_reconcile_moves_changed_schedule_forward() -> None:
    schedule = CronSchedule("0 30 * * * *")
    last = datetime(2026, 3, 1, 7, 0, 0, tzinfo=UTC)
    recorded = ScheduleStatus(last, datetime(2026, 3, 1, 8, 0, 0, tzinfo=UTC), last)

    reconciled = reconcile_status(schedule, recorded, START)

    assert reconciled.next == datetime(2026, 3, 1, 10, 30, 0, tzinfo=UTC)
    assert reconciled.last is None


def test_schedule_status_json_round_trip() -> None:
    status = ScheduleStatus(None, START, START - timedelta(hours=1))

    assert ScheduleStatus.from_json(status.to_json()) == status
    assert status.to_json()["Next"] == "2026-03-01T10:00:00+00:00"
