"""Timer triggers through the dev host: seconds schedules and past-due runs after a restart."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from devhost_testing import SampleHost, read_records, wait_for

from devhost.schedule import CronSchedule

pytestmark = pytest.mark.integration

NIGHTLY = CronSchedule("0 0 3 * * *")


def test_timer_seconds_schedule_fires(sample_host: SampleHost) -> None:
    ticks = wait_for(
        lambda: read_records(sample_host.records_file, "tick")[2:], 10, "three ticks"
    )

    assert all(tick["past_due"] is False for tick in ticks)


def test_timer_missed_occurrence_is_past_due(
    start_sample_host: Callable[..., SampleHost], tmp_path: Path
) -> None:
    last = NIGHTLY.next_after(datetime.now(UTC) - timedelta(days=3))
    missed = NIGHTLY.next_after(last)
    status = {
        "Last": last.isoformat(),
        "Next": missed.isoformat(),
        "LastUpdated": last.isoformat(),
    }
    state_dir = tmp_path / "state"
    (state_dir / "timers").mkdir(parents=True)
    (state_dir / "timers" / "nightly.json").write_text(json.dumps(status))

    host = start_sample_host(state_dir=state_dir)
    records = wait_for(
        lambda: read_records(host.records_file, "nightly"), 10, "the past-due run"
    )
    wait_for(
        lambda: (
            json.loads((state_dir / "timers" / "nightly.json").read_text())["Last"]
            != status["Last"]
        ),
        5,
        "the status update",
    )
    updated = json.loads((state_dir / "timers" / "nightly.json").read_text())

    assert records[0]["past_due"] is True
    assert records[0]["schedule_status"]["Next"] == missed.isoformat()
    assert datetime.fromisoformat(updated["Next"]) > datetime.now(UTC)
