"""Telemetry: settings, lazy configuration, spans and metrics, read with in-memory exporters."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from shared import logcontext, telemetry
from shared.errors import RunNotFoundError, SettingsError, TransientError
from shared.lifecycle import watchdog
from shared.logcontext import log_context
from shared.models import Run, RunStatus, Task, TaskStatus
from shared.pipeline import dispatch
from shared.queues import (
    BUILD_QUEUE,
    FINALIZE_QUEUE,
    POISON_SUFFIX,
    STAGE_QUEUES,
    StageMessage,
)
from shared.telemetry import (
    AUTHENTICATION_STRING_SETTING,
    CONNECTION_STRING_SETTING,
    WORKER_OPENTELEMETRY_SETTING,
    Telemetry,
    TelemetrySettings,
)

CONNECTION_STRING = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000000;"
    "IngestionEndpoint=https://127.0.0.1:9/"
)
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
RUN_ID = "20261204-101500-abc123"
TASK_ID = "build|linux~ubuntu"


# Settings


def test_settings_off_without_connection_string() -> None:
    settings = TelemetrySettings.from_env({})
    assert settings.connection_string is None
    assert settings.entra_id is False


def test_settings_entra_id_with_client_id() -> None:
    settings = TelemetrySettings.from_env(
        {
            CONNECTION_STRING_SETTING: CONNECTION_STRING,
            AUTHENTICATION_STRING_SETTING: f"Authorization=AAD;ClientId={CLIENT_ID}",
        }
    )
    assert settings.connection_string == CONNECTION_STRING
    assert settings.entra_id is True
    assert settings.client_id == CLIENT_ID


def test_settings_entra_id_without_client_id() -> None:
    settings = TelemetrySettings.from_env(
        {AUTHENTICATION_STRING_SETTING: "Authorization=AAD"}
    )
    assert settings.entra_id is True
    assert settings.client_id is None


@pytest.mark.parametrize(
    "value", ["Authorization=Key", "ClientId=abc", "Authorization=AAD;ClientId="]
)
def test_settings_invalid_authentication_string(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        TelemetrySettings.from_env({AUTHENTICATION_STRING_SETTING: value})
    assert AUTHENTICATION_STRING_SETTING in str(raised.value)
    assert "Authorization=AAD" in str(raised.value)


def test_settings_invalid_connection_string_not_echoed() -> None:
    with pytest.raises(SettingsError) as raised:
        TelemetrySettings.from_env({CONNECTION_STRING_SETTING: "not-a-connection"})
    assert CONNECTION_STRING_SETTING in str(raised.value)
    assert "not-a-connection" not in str(raised.value)


def test_settings_worker_configured() -> None:
    settings = TelemetrySettings.from_env({WORKER_OPENTELEMETRY_SETTING: "True"})
    assert settings.worker_configured is True


# Configuration


@pytest.fixture(autouse=True)
def _fresh_telemetry() -> Iterator[None]:
    telemetry.reset()
    yield
    telemetry.reset()


@dataclass
class DistroCalls:
    """What the stand-in for configure_azure_monitor and the credential received."""

    configure: list[dict[str, Any]] = field(default_factory=list)
    credentials: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def distro(monkeypatch: pytest.MonkeyPatch) -> DistroCalls:
    """Replace the distro's configure function, so that no exporter starts."""
    import azure.identity
    import azure.monitor.opentelemetry

    calls = DistroCalls()

    class RecordingCredential:
        def __init__(self, **kwargs: Any) -> None:
            calls.credentials.append(kwargs)

    monkeypatch.setattr(
        azure.identity, "ManagedIdentityCredential", RecordingCredential
    )
    monkeypatch.setattr(
        azure.monitor.opentelemetry,
        "configure_azure_monitor",
        lambda **kwargs: calls.configure.append(kwargs),
    )
    return calls


def test_configure_off_without_connection_string(distro: DistroCalls) -> None:
    assert telemetry.configure(environ={}) is None
    assert distro.configure == []


def test_configure_passes_managed_identity(distro: DistroCalls) -> None:
    environ = {
        CONNECTION_STRING_SETTING: CONNECTION_STRING,
        AUTHENTICATION_STRING_SETTING: f"Authorization=AAD;ClientId={CLIENT_ID}",
    }
    assert telemetry.configure(environ=environ) is not None
    assert len(distro.configure) == 1
    assert distro.configure[0]["connection_string"] == CONNECTION_STRING
    assert distro.credentials == [{"client_id": CLIENT_ID}]


def test_configure_runs_once(distro: DistroCalls) -> None:
    first = telemetry.configure(environ={CONNECTION_STRING_SETTING: CONNECTION_STRING})
    second = telemetry.configure(environ={})
    assert second is first
    assert len(distro.configure) == 1


def test_configure_leaves_worker_configuration(distro: DistroCalls) -> None:
    environ = {
        CONNECTION_STRING_SETTING: CONNECTION_STRING,
        WORKER_OPENTELEMETRY_SETTING: "true",
    }
    assert telemetry.configure(environ=environ) is not None
    assert distro.configure == []


def test_configure_invalid_setting_logs_error(
    distro: DistroCalls, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {
        CONNECTION_STRING_SETTING: CONNECTION_STRING,
        AUTHENTICATION_STRING_SETTING: "Authorization=Key",
    }
    assert telemetry.configure(environ=environ) is None
    assert distro.configure == []
    assert AUTHENTICATION_STRING_SETTING in caplog.text


def test_configure_distro_failure_keeps_pipeline(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import azure.monitor.opentelemetry

    def fail(**kwargs: Any) -> None:
        raise ValueError("Invalid instrumentation key")

    monkeypatch.setattr(azure.monitor.opentelemetry, "configure_azure_monitor", fail)
    environ = {CONNECTION_STRING_SETTING: CONNECTION_STRING}
    assert telemetry.configure(environ=environ) is None
    assert "distro failed to start" in caplog.text


# Spans and metrics of the stage dispatcher


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Recorded:
    """The in-memory exporters behind an installed Telemetry."""

    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    clock: FakeClock
    depth_reads: list[int]

    def finished_spans(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self, name: str) -> list[Any]:
        data = self.metrics.get_metrics_data()
        if data is None:
            return []
        return [
            point
            for resource in data.resource_metrics
            for scope in resource.scope_metrics
            for metric in scope.metrics
            if metric.name == name
            for point in metric.data.data_points
        ]


@pytest.fixture
def recorded() -> Recorded:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    clock = FakeClock()
    reads: list[int] = []

    def read_depths() -> dict[str, int]:
        reads.append(1)
        return {"factory-build": 3, "factory-build-poison": 1}

    telemetry.install(
        Telemetry(
            tracer_provider,
            MeterProvider(metric_readers=[reader]),
            read_depths,
            clock=clock,
        )
    )
    return Recorded(spans, reader, clock, reads)


class FakeStore:
    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.tasks: dict[tuple[str, str], Task] = {}
        self.fail_reads = False
        self.reads = 0

    def get_run(self, run_id: str) -> Run:
        self.reads += 1
        if self.fail_reads:
            raise ServiceRequestError("connection refused")
        if run_id not in self.runs:
            raise RunNotFoundError(f"run {run_id} not found")
        return self.runs[run_id]

    def get_task(self, run_id: str, task_id: str) -> Task:
        self.reads += 1
        if self.fail_reads:
            raise ServiceRequestError("connection refused")
        return self.tasks[(run_id, task_id)]

    def save_task(self, task: Task) -> Task:
        self.tasks[(task.run_id, task.task_id)] = task
        return task


class FakeFactory:
    def __init__(self) -> None:
        self.store = FakeStore()

    def now(self) -> datetime:
        return datetime.now(UTC)


@pytest.fixture
def factory() -> FakeFactory:
    factory = FakeFactory()
    factory.store.runs[RUN_ID] = Run(
        run_id=RUN_ID, trigger="push", ref="refs/heads/main", status=RunStatus.RUNNING
    )
    factory.store.tasks[(RUN_ID, TASK_ID)] = Task(
        run_id=RUN_ID,
        task_id=TASK_ID,
        kind="build",
        image="linux/ubuntu",
        version="1.0.0",
        content_hash="h",
        os_type="Linux",
        status=TaskStatus.RUNNING,
        started_at=datetime.now(UTC) - timedelta(minutes=20),
    )
    return factory


def _deliver(factory: FakeFactory, queue: str, message: StageMessage) -> None:
    dispatch.process_stage_message(factory, queue, message.to_json(), 2)  # type: ignore[arg-type]


def test_stage_span_has_context_attributes(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, lambda f, m: None)
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))

    [span] = recorded.finished_spans()
    assert span.name == "build"
    assert span.attributes is not None
    assert span.attributes["run_id"] == RUN_ID
    assert span.attributes["task_id"] == TASK_ID
    assert span.attributes["stage"] == "build"
    assert span.attributes["dequeue_count"] == 2
    assert span.status.status_code == StatusCode.UNSET


def test_stage_duration_recorded_per_invocation(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, lambda f, m: None)
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))

    [point] = recorded.points("factory.stage.duration")
    assert dict(point.attributes) == {"stage": "build", "outcome": "completed"}
    assert point.count == 2


def test_task_duration_recorded_when_task_finishes(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def finish_task(f: FakeFactory, message: StageMessage) -> None:
        task = f.store.tasks[(message.run_id, message.task_id)]
        task.status = TaskStatus.SUCCEEDED
        task.finished_at = f.now()

    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, finish_task)
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))

    [point] = recorded.points("factory.task.duration")
    assert dict(point.attributes) == {
        "stage": "build",
        "kind": "build",
        "status": "succeeded",
    }
    assert point.count == 1
    assert 20 * 60 <= point.sum < 21 * 60


def test_task_duration_not_recorded_for_running_task(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, lambda f, m: None)
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))
    assert recorded.points("factory.task.duration") == []


def test_run_counted_once_when_finalize_ends_it(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def finalize(f: FakeFactory, message: StageMessage) -> None:
        run = f.store.runs[message.run_id]
        if not RunStatus(run.status).is_final:
            run.status = RunStatus.SUCCEEDED
            run.finished_at = f.now()

    monkeypatch.setitem(dispatch.HANDLERS, FINALIZE_QUEUE, finalize)
    _deliver(factory, FINALIZE_QUEUE, StageMessage(RUN_ID))
    # A repeated delivery finds the run ended before it started.
    _deliver(factory, FINALIZE_QUEUE, StageMessage(RUN_ID))

    [point] = recorded.points("factory.runs.finished")
    assert dict(point.attributes) == {"status": "succeeded", "trigger": "push"}
    assert point.value == 1


def test_failed_invocation_span_redacts_error(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(f: FakeFactory, message: StageMessage) -> None:
        raise TransientError("copy from https://h/c/b?sv=1&sig=SECRETSIG failed: 503")

    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, throttled)
    with pytest.raises(TransientError):
        _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))

    [span] = recorded.finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert "SECRETSIG" not in (span.status.description or "")
    [event] = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "TransientError"
    assert "SECRETSIG" not in str(event.attributes["exception.message"])
    assert "SECRETSIG" not in str(event.attributes["exception.stacktrace"])
    [point] = recorded.points("factory.stage.duration")
    assert point.attributes["outcome"] == "failed"


def test_metric_read_failure_does_not_fail_stage(
    recorded: Recorded,
    factory: FakeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def break_reads(f: FakeFactory, message: StageMessage) -> None:
        f.store.fail_reads = True

    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, break_reads)
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))
    assert "could not record the metrics" in caplog.text


def test_hooks_do_nothing_when_off(
    factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    telemetry.install(None)
    monkeypatch.setitem(dispatch.HANDLERS, BUILD_QUEUE, lambda f, m: None)
    _deliver(factory, BUILD_QUEUE, StageMessage(RUN_ID, TASK_ID))
    with telemetry.watch_run_end(factory, RUN_ID):  # type: ignore[arg-type]
        pass
    assert factory.store.reads == 0


def test_watch_run_end_counts_cancel(recorded: Recorded, factory: FakeFactory) -> None:
    with telemetry.watch_run_end(factory, RUN_ID):  # type: ignore[arg-type]
        run = factory.store.runs[RUN_ID]
        run.status = RunStatus.CANCELLED
        run.finished_at = factory.now()

    [point] = recorded.points("factory.runs.finished")
    assert point.attributes["status"] == "cancelled"


def test_invocation_span_named_after_function(recorded: Recorded) -> None:
    with telemetry.invocation_span("runs_cancel", RUN_ID):
        pass
    [span] = recorded.finished_spans()
    assert span.name == "runs_cancel"
    assert span.attributes is not None
    assert span.attributes["run_id"] == RUN_ID


# Queue depth


def test_queue_depth_gauge_reports_each_queue(recorded: Recorded) -> None:
    points = recorded.points("factory.queue.depth")
    depths = {point.attributes["queue"]: point.value for point in points}
    assert depths == {"factory-build": 3, "factory-build-poison": 1}


def test_queue_depth_read_at_most_once_per_interval(recorded: Recorded) -> None:
    recorded.points("factory.queue.depth")
    recorded.clock.now += telemetry.QUEUE_DEPTH_INTERVAL_SECONDS / 2
    recorded.points("factory.queue.depth")
    assert len(recorded.depth_reads) == 1
    recorded.clock.now += telemetry.QUEUE_DEPTH_INTERVAL_SECONDS
    recorded.points("factory.queue.depth")
    assert len(recorded.depth_reads) == 2


def test_queue_depth_failure_reports_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def unreachable() -> dict[str, int]:
        raise ServiceRequestError("connection refused")

    reader = InMemoryMetricReader()
    Telemetry(TracerProvider(), MeterProvider(metric_readers=[reader]), unreachable)
    data = reader.get_metrics_data()
    names = [
        metric.name
        for resource in (data.resource_metrics if data else [])
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.data.data_points
    ]
    assert "factory.queue.depth" not in names
    assert "could not read the queue depths" in caplog.text


def test_read_queue_depths_covers_poison_queues() -> None:
    class Properties:
        approximate_message_count = 4

    class Client:
        def get_queue_properties(self) -> Properties:
            return Properties()

    class Queues:
        def client(self, name: str) -> Client:
            return Client()

    depths = telemetry.read_queue_depths(Queues())  # type: ignore[arg-type]
    expected = {q for stage in STAGE_QUEUES for q in (stage, stage + POISON_SUFFIX)}
    assert set(depths) == expected
    assert set(depths.values()) == {4}


# Log records as the Azure Monitor exporter sends them


def test_log_context_becomes_custom_dimensions() -> None:
    from azure.monitor.opentelemetry.exporter.export.logs._exporter import (
        _convert_log_to_envelope,
    )

    logcontext.install()
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = logging.getLogger("tests.telemetry.dimensions")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = LoggingHandler(logger_provider=provider)
    logger.addHandler(handler)
    try:
        with log_context(run_id=RUN_ID, task_id=TASK_ID, stage="capture"):
            logger.info("copied the OS disk")
    finally:
        logger.removeHandler(handler)

    [record] = exporter.get_finished_logs()
    # NOTE: _convert_log_to_envelope is private to azure-monitor-opentelemetry-
    # exporter 1.0.0b58; it is what AzureMonitorLogExporter.export calls per record.
    envelope = _convert_log_to_envelope(record)
    assert envelope.data is not None
    properties = envelope.data.base_data.properties  # type: ignore[union-attr]
    assert properties["run_id"] == RUN_ID
    assert properties["task_id"] == TASK_ID
    assert properties["stage"] == "capture"


def test_run_failed_by_watchdog_is_counted(
    recorded: Recorded, factory: FakeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(_: object, run_id: str, reason: str) -> Run:
        run = factory.store.runs[run_id]
        run.status = RunStatus.FAILED
        run.finished_at = factory.now()
        run.error = reason
        return run

    monkeypatch.setattr(watchdog, "fail_run", fail)
    monkeypatch.setattr(watchdog, "resume_run", lambda *_: 0)
    run = factory.store.runs[RUN_ID]
    watchdog._fail(factory, run, timedelta(hours=24))  # type: ignore[arg-type]

    [point] = recorded.points("factory.runs.finished")
    assert point.attributes["status"] == "failed"
