"""The start of every trigger invocation: telemetry, the log context and a span."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from shared import telemetry
from shared.context import get_factory
from shared.logcontext import log_context


def start_telemetry() -> None:
    """Configure telemetry on the first invocation of the process; later calls are cheap."""
    telemetry.configure(queue_depths=_queue_depths)


def _queue_depths() -> dict[str, int]:
    return telemetry.read_queue_depths(get_factory().queues)


@contextlib.contextmanager
def observed(function: str, run_id: str = "") -> Iterator[None]:
    """Run an HTTP or timer invocation inside its log context and span.

    ``function`` becomes the ``stage`` of every log record and the span's name.
    """
    start_telemetry()
    with (
        log_context(run_id=run_id, stage=function),
        telemetry.invocation_span(function, run_id),
    ):
        yield
