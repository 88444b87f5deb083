"""OpenTelemetry traces and metrics of the factory, exported to Application Insights.

Telemetry is off unless APPLICATIONINSIGHTS_CONNECTION_STRING is set. The
trigger adapters call :func:`configure` on each invocation and only the first
call does any work. Until then nothing here imports OpenTelemetry, because the
Functions host indexes the app by importing it, and importing the Azure
Monitor distro alone takes about 0.3 s (``python -X importtime``, 2 cores).

With the app setting PYTHON_ENABLE_OPENTELEMETRY=true, the Python worker
configures the distro itself when it starts, so :func:`configure` only creates
the instruments on the worker's providers.

Spans carry the attribute names of the log records (run_id, task_id, stage),
so one Application Insights query finds both by run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import AzureError

from shared.errors import FactoryError, SettingsError
from shared.logcontext import redact
from shared.models import RunStatus, TaskStatus
from shared.queues import POISON_SUFFIX, STAGE_QUEUES, StageMessage, StageQueues

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation
    from opentelemetry.trace import Span, TracerProvider

    from shared.context import Factory

logger = logging.getLogger(__name__)

CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
WORKER_OPENTELEMETRY_SETTING = "PYTHON_ENABLE_OPENTELEMETRY"
INSTRUMENTATION_SCOPE = "image_factory"
# Each read of the queue depths costs one Get Queue Properties request per
# queue, so the gauge reads at most once per interval however often metrics
# are collected. The SDK's periodic reader collects every 60 s unless
# OTEL_METRIC_EXPORT_INTERVAL sets another interval.
QUEUE_DEPTH_INTERVAL_SECONDS = 60.0

QueueDepthReader = Callable[[], Mapping[str, int]]


@dataclass(frozen=True)
class TelemetrySettings:
    """The Application Insights connection and authentication settings."""

    connection_string: str | None = None
    entra_id: bool = False
    client_id: str | None = None
    worker_configured: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TelemetrySettings:
        """Read and validate the settings; raise SettingsError naming each bad one."""
        env = os.environ if environ is None else environ
        problems: list[str] = []
        connection_string = env.get(CONNECTION_STRING_SETTING, "").strip() or None
        if connection_string and "instrumentationkey=" not in connection_string.lower():
            # The value is not echoed: it identifies the resource that accepts telemetry.
            problems.append(
                f"{CONNECTION_STRING_SETTING} is invalid: copy the connection string "
                "('InstrumentationKey=...;IngestionEndpoint=https://...') from the "
                "Application Insights resource"
            )
        entra_id, client_id = _parse_authentication(
            env.get(AUTHENTICATION_STRING_SETTING, "").strip(), problems
        )
        if problems:
            raise SettingsError("invalid app settings:\n  " + "\n  ".join(problems))

        worker = env.get(WORKER_OPENTELEMETRY_SETTING, "").strip().lower()
        return cls(
            connection_string=connection_string,
            entra_id=entra_id,
            client_id=client_id,
            worker_configured=worker in ("true", "1"),
        )


def _parse_authentication(value: str, problems: list[str]) -> tuple[bool, str | None]:
    """Parse 'Authorization=AAD[;ClientId=<id>]' into (Entra ID on, client id)."""
    if not value:
        return False, None
    pairs: dict[str, str] = {}
    for part in filter(None, value.split(";")):
        key, separator, item = part.partition("=")
        pairs[key.strip().lower()] = item.strip() if separator else ""
    unknown = set(pairs) - {"authorization", "clientid"}
    if pairs.get("authorization", "").upper() != "AAD" or unknown:
        problems.append(
            f"{AUTHENTICATION_STRING_SETTING}={value!r} is invalid: use "
            "'Authorization=AAD' for a system-assigned identity or "
            "'Authorization=AAD;ClientId=<client id>' for a user-assigned one"
        )
        return False, None
    if "clientid" in pairs and not pairs["clientid"]:
        problems.append(
            f"{AUTHENTICATION_STRING_SETTING}={value!r} has an empty ClientId"
        )
        return False, None
    return True, pairs.get("clientid")


class Telemetry:
    """The tracer and the instruments that the factory records into."""

    def __init__(
        self,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        queue_depths: QueueDepthReader | None = None,
        *,
        queue_depth_interval: float = QUEUE_DEPTH_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracer = tracer_provider.get_tracer(INSTRUMENTATION_SCOPE)
        meter = meter_provider.get_meter(INSTRUMENTATION_SCOPE)
        self.runs_finished = meter.create_counter(
            "factory.runs.finished",
            unit="{run}",
            description="Runs that reached a final status, by status and trigger",
        )
        self.task_duration = meter.create_histogram(
            "factory.task.duration",
            unit="s",
            description="Time from a task's start to its final status, by the stage "
            "that ended it, task kind and status",
        )
        self.stage_duration = meter.create_histogram(
            "factory.stage.duration",
            unit="s",
            description="Time of one stage handler invocation, by stage and outcome",
        )
        self.queue_depth: QueueDepthGauge | None = None
        if queue_depths is not None:
            self.queue_depth = QueueDepthGauge(
                queue_depths, queue_depth_interval, clock
            )
            meter.create_observable_gauge(
                "factory.queue.depth",
                callbacks=[self.queue_depth.observe],
                unit="{message}",
                description="Approximate number of messages in each stage queue "
                "and poison queue",
            )

    @contextlib.contextmanager
    def span(self, name: str, attributes: Mapping[str, str | int]) -> Iterator[Span]:
        """Open a span; an exception leaves a redacted error status and event on it."""
        with self.tracer.start_as_current_span(
            name,
            attributes=dict(attributes),
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield span
            except BaseException as exc:
                _record_exception(span, exc)
                raise


def _record_exception(span: Span, exc: BaseException) -> None:
    """Record ``exc`` on ``span`` with SAS signatures, tokens and passwords removed.

    The SDK's own recording would copy the message unredacted.
    """
    from opentelemetry.trace import Status, StatusCode

    message = redact(str(exc))
    stack = redact("".join(traceback.format_exception(exc)))
    span.add_event(
        "exception",
        {
            "exception.type": type(exc).__qualname__,
            "exception.message": message,
            "exception.stacktrace": stack,
        },
    )
    span.set_status(Status(StatusCode.ERROR, message))


class QueueDepthGauge:
    """The queue depths behind the observable gauge, read at most once per interval."""

    def __init__(
        self, read: QueueDepthReader, interval: float, clock: Callable[[], float]
    ) -> None:
        self._read = read
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at: float | None = None
        self._depths: dict[str, int] = {}

    def observe(self, options: CallbackOptions) -> list[Observation]:
        from opentelemetry.metrics import Observation

        with self._lock:
            now = self._clock()
            if self._read_at is None or now - self._read_at >= self._interval:
                self._read_at = now
                self._depths = self._read_depths()
            depths = dict(self._depths)
        return [Observation(count, {"queue": name}) for name, count in depths.items()]

    def _read_depths(self) -> dict[str, int]:
        try:
            return dict(self._read())
        except (AzureError, FactoryError) as exc:
            # Nothing is reported until the next successful read: a stale
            # depth would look like a stuck queue.
            logger.warning("could not read the queue depths: %s", exc)
            return {}


def read_queue_depths(queues: StageQueues) -> dict[str, int]:
    """Return the approximate message count of every stage queue and its poison queue.

    Storage counts invisible messages too: monitor messages that wait out
    their delay and messages that a function is processing.
    """
    depths: dict[str, int] = {}
    for stage_queue in STAGE_QUEUES:
        for name in (stage_queue, stage_queue + POISON_SUFFIX):
            properties = queues.client(name).get_queue_properties()
            depths[name] = int(properties.approximate_message_count or 0)
    return depths


_lock = threading.Lock()
_configured = False
_telemetry: Telemetry | None = None


def configure(
    queue_depths: QueueDepthReader | None = None,
    environ: Mapping[str, str] | None = None,
) -> Telemetry | None:
    """Start exporting to Application Insights on the first call; return the telemetry.

    Returns None when telemetry is off. Later calls return the first result
    without reading the settings again.
    """
    global _configured, _telemetry
    with _lock:
        if not _configured:
            _telemetry = _start(queue_depths, environ)
            _configured = True
        return _telemetry


def install(telemetry: Telemetry | None) -> None:
    """Replace the process's telemetry; tests install one with in-memory exporters."""
    global _configured, _telemetry
    with _lock:
        _telemetry = telemetry
        _configured = True


def reset() -> None:
    """Forget the telemetry, so that the next :func:`configure` reads the settings again."""
    global _configured, _telemetry
    with _lock:
        _telemetry = None
        _configured = False


def current() -> Telemetry | None:
    return _telemetry


def _start(
    queue_depths: QueueDepthReader | None, environ: Mapping[str, str] | None
) -> Telemetry | None:
    try:
        settings = TelemetrySettings.from_env(environ)
    except SettingsError as exc:
        logger.error("telemetry is off: %s", exc)
        return None
    if settings.connection_string is None:
        logger.info("telemetry is off: %s is not set", CONNECTION_STRING_SETTING)
        return None

    if not settings.worker_configured:
        try:
            _configure_azure_monitor(settings)
        except Exception:
            # The distro raises many kinds of errors (a bad endpoint, a missing
            # package), and telemetry must never stop the pipeline.
            logger.exception(
                "telemetry is off: the Azure Monitor distro failed to start"
            )
            return None

    from opentelemetry import metrics, trace

    telemetry = Telemetry(
        trace.get_tracer_provider(), metrics.get_meter_provider(), queue_depths
    )
    logger.info(
        "telemetry goes to Application Insights (authentication: %s, configured by %s)",
        "Entra ID" if settings.entra_id else "instrumentation key only",
        "the Python worker" if settings.worker_configured else "the app",
    )
    return telemetry


def _configure_azure_monitor(settings: TelemetrySettings) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    options: dict[str, Any] = {"connection_string": settings.connection_string}
    if settings.entra_id:
        from azure.identity import ManagedIdentityCredential

        options["credential"] = (
            ManagedIdentityCredential(client_id=settings.client_id)
            if settings.client_id
            else ManagedIdentityCredential()
        )
    configure_azure_monitor(**options)


# Hooks for the adapters and the stage dispatcher. Each one does nothing while
# telemetry is off, so the pipeline pays for no read it does not need.


@contextlib.contextmanager
def invocation_span(function: str, run_id: str = "") -> Iterator[None]:
    """Trace one HTTP or timer invocation as a span named after the function."""
    telemetry = _telemetry
    if telemetry is None:
        yield
        return
    attributes = (
        {"stage": function, "run_id": run_id} if run_id else {"stage": function}
    )
    with telemetry.span(function, attributes):
        yield


@contextlib.contextmanager
def stage_invocation(
    factory: Factory, stage: str, message: StageMessage, dequeue_count: int
) -> Iterator[None]:
    """Trace one stage handler invocation and record what it finished.

    The span and ``factory.stage.duration`` cover every invocation. After a
    handler returns, ``factory.task.duration`` records its task if the task
    reached a final status during the invocation, and for a message without a
    task (plan, finalize), ``factory.runs.finished`` counts its run likewise.
    """
    telemetry = _telemetry
    if telemetry is None:
        yield
        return

    attributes: dict[str, str | int] = {
        "run_id": message.run_id,
        "task_id": message.task_id,
        "stage": stage,
        "dequeue_count": dequeue_count,
    }
    started_at = factory.now()
    started = time.monotonic()
    outcome = "failed"
    try:
        with telemetry.span(stage, attributes):
            yield
        outcome = "completed"
    finally:
        elapsed = time.monotonic() - started
        telemetry.stage_duration.record(elapsed, {"stage": stage, "outcome": outcome})

    with _metrics_never_fail(f"stage {stage} of run {message.run_id}"):
        if message.task_id:
            _record_task_if_finished(telemetry, factory, stage, message, started_at)
        else:
            _record_run_if_finished(telemetry, factory, message.run_id, started_at)


@contextlib.contextmanager
def watch_run_end(factory: Factory, run_id: str) -> Iterator[None]:
    """Count the run in ``factory.runs.finished`` if it ends inside the block.

    For the places outside the stage dispatcher that end runs: cancel, the
    poison handler and the timers.
    """
    telemetry = _telemetry
    if telemetry is None or not run_id:
        yield
        return
    started_at = factory.now()
    yield
    with _metrics_never_fail(f"run {run_id}"):
        _record_run_if_finished(telemetry, factory, run_id, started_at)


@contextlib.contextmanager
def _metrics_never_fail(subject: str) -> Iterator[None]:
    # The work is done when this runs: an exception here would make the queue
    # deliver the message again only to record a metric.
    try:
        yield
    except Exception as exc:
        logger.warning("could not record the metrics of %s: %s", subject, exc)


def _record_task_if_finished(
    telemetry: Telemetry,
    factory: Factory,
    stage: str,
    message: StageMessage,
    since: datetime,
) -> None:
    # NOTE: two deliveries of the same message that run at the same time can
    # both see the task finish inside their invocation and record it twice.
    task = factory.store.get_task(message.run_id, message.task_id)
    finished_at = task.finished_at
    if not TaskStatus(task.status).is_final or finished_at is None:
        return
    if finished_at < since:
        return
    begun = task.started_at or task.created_at
    telemetry.task_duration.record(
        max(0.0, (finished_at - begun).total_seconds()),
        {"stage": stage, "kind": str(task.kind), "status": str(task.status)},
    )


def _record_run_if_finished(
    telemetry: Telemetry, factory: Factory, run_id: str, since: datetime
) -> None:
    run = factory.store.get_run(run_id)
    if not RunStatus(run.status).is_final or run.finished_at is None:
        return
    if run.finished_at < since:
        return
    telemetry.runs_finished.add(1, {"status": str(run.status), "trigger": run.trigger})
