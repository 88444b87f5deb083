"""Helpers of the fault tests: a stack of their own per module, and request log queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import FactoryHarness, HarnessOptions

TIME_SCALE = 0.004
RUN_TIMEOUT_SECONDS = 240.0
SMALL_FLEET = FleetSpec(images=3, labs=3, seed=5)


@contextmanager
def fault_harness(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    fleet: FleetSpec = SMALL_FLEET,
    **options: Any,
) -> Iterator[FactoryHarness]:
    """Start a stack of its own with a small fleet; stop it afterwards."""
    state_dir = tmp_path_factory.mktemp(name)
    settings = HarnessOptions(time_scale=TIME_SCALE, **options)
    with FactoryHarness(state_dir, fleet, settings) as harness:
        yield harness


def arm_entries(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The request log's ARM requests, without token requests."""
    return [e for e in log if str(e["path"]).startswith("/subscriptions/")]


def faulted(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e.get("fault")]


def same_request(entry: dict[str, Any]) -> tuple[str, str]:
    return (str(entry["method"]), str(entry["path"]).lower())
