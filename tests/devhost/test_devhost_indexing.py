"""Indexing of a FunctionApp: triggers, unsupported bindings and parameter checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from devhost.errors import AppLoadError, IndexingError
from devhost.hostconfig import HostConfig, QueuesOptions
from devhost.indexing import (
    HttpTrigger,
    QueueTrigger,
    TimerTrigger,
    index_functions,
    load_app,
)

CONFIG = HostConfig(queues=QueuesOptions())
SETTINGS = {"WORK_QUEUE": "Jobs-Work", "NIGHTLY": "0 0 3 * * *"}


def sample_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="")
    def work(msg: func.QueueMessage) -> None: ...

    @app.timer_trigger(schedule="%NIGHTLY%", arg_name="timer", run_on_startup=True)
    async def nightly(timer: func.TimerRequest) -> None: ...

    @app.route(route="runs/{run_id}", methods=["GET"])
    def show_run(req: func.HttpRequest, context: func.Context) -> str:
        return ""

    @app.function_name("renamed")
    @app.route(auth_level=func.AuthLevel.ADMIN)
    def original_name(req: func.HttpRequest) -> str:
        return ""

    return app


def index(
    app: Any, config: HostConfig = CONFIG, settings: dict[str, str] | None = None
) -> dict[str, Any]:
    definitions = index_functions(
        app, config, SETTINGS if settings is None else settings
    )
    return {definition.name: definition for definition in definitions}


def test_index_reads_triggers() -> None:
    definitions = index(sample_app())

    work, nightly = definitions["work"], definitions["nightly"]
    assert work.trigger == QueueTrigger(queue_name="jobs-work", connection="")
    assert work.payload_annotation is func.QueueMessage
    assert isinstance(nightly.trigger, TimerTrigger)
    assert nightly.trigger.schedule_expression == "0 0 3 * * *"
    assert nightly.trigger.run_on_startup is True
    assert nightly.is_async


def test_index_reads_http_routes() -> None:
    definitions = index(sample_app())

    show_run, renamed = definitions["show_run"], definitions["renamed"]
    assert isinstance(show_run.trigger, HttpTrigger)
    assert show_run.trigger.methods == frozenset({"GET"})
    assert show_run.trigger.auth_level == "function"
    assert show_run.takes_context
    assert isinstance(renamed.trigger, HttpTrigger)
    assert renamed.trigger.route.template == "renamed"
    assert renamed.trigger.auth_level == "admin"
    assert renamed.trigger.methods is None


def test_index_calls_get_functions_once() -> None:
    class CountingApp:
        calls = 0

        def get_functions(self) -> list[Any]:
            self.calls += 1
            return sample_app().get_functions()

    app = CountingApp()
    index(app)

    assert app.calls == 1


def test_index_skips_disabled_functions() -> None:
    settings = {**SETTINGS, "AzureWebJobs.work.Disabled": "true"}
    only_nightly = HostConfig(queues=QueuesOptions(), functions=("nightly", "work"))

    assert "work" not in index(sample_app(), settings=settings)
    assert set(index(sample_app(), config=only_nightly)) == {"nightly", "work"}


def test_index_rejects_output_binding() -> None:
    app = func.FunctionApp()

    @app.queue_output(
        arg_name="out", queue_name="next", connection="AzureWebJobsStorage"
    )
    @app.queue_trigger(
        arg_name="msg", queue_name="first", connection="AzureWebJobsStorage"
    )
    def relay(msg: func.QueueMessage, out: func.Out[str]) -> None: ...

    with pytest.raises(IndexingError) as error:
        index(app)

    assert "function relay" in str(error.value)
    assert "queue binding (out)" in str(error.value)


def test_index_rejects_unknown_trigger() -> None:
    app = func.FunctionApp()

    @app.blob_trigger(
        arg_name="blob", path="images/{name}", connection="AzureWebJobsStorage"
    )
    def on_blob(blob: func.InputStream) -> None: ...

    with pytest.raises(IndexingError) as error:
        index(app)

    assert "function on_blob has a blobTrigger trigger" in str(error.value)


def test_index_rejects_unbound_parameter() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="jobs", connection="")
    def work(msg: str, extra: int) -> None: ...

    with pytest.raises(IndexingError, match="parameters without a binding: extra"):
        index(app)


def test_index_rejects_invalid_queue_name() -> None:
    app = func.FunctionApp()

    @app.queue_trigger(arg_name="msg", queue_name="bad--name", connection="")
    def work(msg: str) -> None: ...

    with pytest.raises(IndexingError, match="queue name 'bad--name' is invalid"):
        index(app)


def test_index_rejects_invalid_schedule() -> None:
    app = func.FunctionApp()

    @app.timer_trigger(schedule="every day", arg_name="timer")
    def daily(timer: func.TimerRequest) -> None: ...

    with pytest.raises(IndexingError, match="function daily: schedule 'every day'"):
        index(app)


def test_load_app_reports_import_error(tmp_path: Path) -> None:
    (tmp_path / "devhost_broken_app.py").write_text(
        "raise KeyError('MISSING_SETTING')\n"
    )

    with pytest.raises(AppLoadError) as error:
        load_app(tmp_path, "devhost_broken_app", "app")

    assert "KeyError" in str(error.value)
    assert "MISSING_SETTING" in str(error.value)


def test_load_app_rejects_missing_attribute(tmp_path: Path) -> None:
    (tmp_path / "devhost_empty_app.py").write_text("application = None\n")

    with pytest.raises(
        AppLoadError,
        match=re.escape("devhost_empty_app.app is not an azure.functions.FunctionApp"),
    ):
        load_app(tmp_path, "devhost_empty_app", "app")
