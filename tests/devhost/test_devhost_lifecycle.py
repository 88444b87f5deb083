"""Start, readiness, shutdown and restart of the dev host process."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from devhost_testing import DevHostProcess, SampleHost, wait_for

pytestmark = pytest.mark.integration


def test_readiness_lists_functions(sample_host: SampleHost) -> None:
    functions = set(sample_host.readiness["functions"])

    assert {
        "process_work",
        "process_text",
        "tick",
        "nightly",
        "echo",
        "secure",
        "hello",
    } <= functions
    assert sample_host.readiness["base_url"].startswith("http://127.0.0.1:")
    assert sample_host.readiness["pid"] == sample_host.process.process.pid


def test_sigterm_lets_request_finish(
    start_sample_host: Callable[..., SampleHost],
) -> None:
    host = start_sample_host()
    responses: list[requests.Response] = []
    request = threading.Thread(
        target=lambda: responses.append(
            requests.get(f"{host.base_url}/api/slow?seconds=1.5", timeout=20)
        )
    )
    request.start()
    wait_for(
        lambda: "function=slow" in host.process.log_text(),
        10,
        "the slow request to start",
    )

    host.process.send_signal(signal.SIGTERM)
    status = host.process.wait_exit(20)
    request.join(20)

    assert status == 0
    assert responses[0].status_code == 201
    assert not host.process.readiness_path.exists()


def test_sigint_exits_cleanly(start_sample_host: Callable[..., SampleHost]) -> None:
    host = start_sample_host()

    host.process.send_signal(signal.SIGINT)

    assert host.process.wait_exit(20) == 0


def test_restart_keeps_keys(start_sample_host: Callable[..., SampleHost]) -> None:
    first = start_sample_host()
    first.process.send_signal(signal.SIGTERM)
    first.process.wait_exit(20)

    second = start_sample_host(
        state_dir=first.process.state_dir, settings=first.settings
    )

    assert second.function_key == first.function_key
    assert second.master_key == first.master_key
    assert second.function_key != second.master_key


def test_keys_from_environment(
    start_sample_host: Callable[..., SampleHost],
    sample_settings: Callable[[Path], dict[str, str]],
    tmp_path: Path,
) -> None:
    settings = sample_settings(tmp_path / "records.jsonl")
    settings["DEVHOST_FUNCTION_KEY"] = "function-key-from-env"
    settings["DEVHOST_MASTER_KEY"] = "master-key-from-env"
    host = start_sample_host(settings=settings)

    response = requests.get(
        f"{host.base_url}/api/secure/env",
        params={"code": "function-key-from-env"},
        timeout=10,
    )

    assert host.function_key == "function-key-from-env"
    assert host.master_key == "master-key-from-env"
    assert response.status_code == 200


def test_output_binding_fails_start(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "host.json").write_text('{"version": "2.0"}')
    (app_dir / "function_app.py").write_text(
        "import azure.functions as func\n"
        "app = func.FunctionApp()\n"
        "@app.queue_output(arg_name='out', queue_name='out', connection='AzureWebJobsStorage')\n"
        "@app.route(route='send')\n"
        "def send(req: func.HttpRequest, out: func.Out[str]) -> str:\n"
        "    return 'sent'\n"
    )
    process = DevHostProcess(app_dir, tmp_path / "state", {}).start()

    status = process.wait_exit(30)

    assert status == 1
    assert "function send uses a queue binding (out)" in process.log_text()
