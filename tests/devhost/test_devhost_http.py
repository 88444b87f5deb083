"""HTTP triggers and admin endpoints through the dev host."""

from __future__ import annotations

import pytest
import requests
from devhost_testing import SampleHost, read_records, wait_for

pytestmark = pytest.mark.integration


def test_http_route_parameters_and_query(sample_host: SampleHost) -> None:
    response = requests.get(
        f"{sample_host.base_url}/api/items/42?color=red",
        headers={"x-sample": "present"},
        timeout=10,
    )
    document = response.json()

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert document["method"] == "GET"
    assert document["route_params"] == {"id": "42"}
    assert document["params"] == {"color": "red"}
    assert document["header"] == "present"
    assert document["url"] == f"{sample_host.base_url}/api/items/42?color=red"


def test_http_optional_parameter_and_body(sample_host: SampleHost) -> None:
    response = requests.post(
        f"{sample_host.base_url}/api/Items", data=b"payload bytes", timeout=10
    )

    assert response.status_code == 200
    assert response.json()["route_params"] == {}
    assert response.json()["body"] == "payload bytes"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/items/abc"),
        ("GET", "/api/items/99999999999"),
        ("DELETE", "/api/items/1"),
        ("GET", "/items/1"),
        ("GET", "/api/unknown"),
    ],
)
def test_http_unmatched_request_is_404(
    sample_host: SampleHost, method: str, path: str
) -> None:
    response = requests.request(method, f"{sample_host.base_url}{path}", timeout=10)

    assert response.status_code == 404


def test_http_function_level_without_key_is_401(sample_host: SampleHost) -> None:
    missing = requests.get(f"{sample_host.base_url}/api/secure/ann", timeout=10)
    wrong = requests.get(
        f"{sample_host.base_url}/api/secure/ann", params={"code": "wrong"}, timeout=10
    )

    assert missing.status_code == 401
    assert wrong.status_code == 401


def test_http_function_level_accepts_keys(sample_host: SampleHost) -> None:
    url = f"{sample_host.base_url}/api/secure/ann"
    by_query = requests.get(url, params={"code": sample_host.function_key}, timeout=10)
    by_header = requests.get(
        url, headers={"x-functions-key": sample_host.function_key}, timeout=10
    )
    by_master = requests.get(
        url, headers={"x-functions-key": sample_host.master_key}, timeout=10
    )

    assert (by_query.status_code, by_query.text) == (200, "hello ann")
    assert by_header.status_code == 200
    assert by_master.status_code == 200


def test_http_admin_level_needs_master_key(sample_host: SampleHost) -> None:
    url = f"{sample_host.base_url}/api/ops/ping"
    with_function_key = requests.get(
        url, params={"code": sample_host.function_key}, timeout=10
    )
    with_master_key = requests.get(
        url, params={"code": sample_host.master_key}, timeout=10
    )

    assert with_function_key.status_code == 401
    assert (with_master_key.status_code, with_master_key.text) == (200, "pong")


def test_http_exception_gives_generic_500(sample_host: SampleHost) -> None:
    response = requests.get(f"{sample_host.base_url}/api/broken", timeout=10)

    assert response.status_code == 500
    assert "secret detail" not in response.text
    assert "ValueError: secret detail" in sample_host.process.log_text()


def test_http_async_function_gets_context(sample_host: SampleHost) -> None:
    response = requests.get(f"{sample_host.base_url}/api/hello/World", timeout=10)

    assert (response.status_code, response.text) == (200, "hello World")
    assert response.headers["X-Function-Name"] == "hello"
    assert len(response.headers["X-Invocation-Id"]) == 36


def test_http_response_status_and_headers(sample_host: SampleHost) -> None:
    response = requests.get(
        f"{sample_host.base_url}/api/slow", params={"seconds": "0"}, timeout=10
    )

    assert response.status_code == 201
    assert response.headers["X-Slept"] == "yes"
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_http_body_over_limit_is_413(sample_host: SampleHost) -> None:
    response = requests.post(
        f"{sample_host.base_url}/api/items", data=b"x" * 5000, timeout=10
    )

    assert response.status_code == 413


def test_admin_invoke_runs_timer(sample_host: SampleHost) -> None:
    response = requests.post(
        f"{sample_host.base_url}/admin/functions/nightly",
        json={"input": ""},
        headers={"x-functions-key": sample_host.master_key},
        timeout=10,
    )

    records = wait_for(
        lambda: read_records(sample_host.records_file, "nightly"),
        10,
        "the timer to run",
    )
    assert response.status_code == 202
    assert records[-1]["past_due"] is False


def test_admin_invoke_needs_master_key(sample_host: SampleHost) -> None:
    url = f"{sample_host.base_url}/admin/functions/nightly"
    without_key = requests.post(url, json={}, timeout=10)
    with_function_key = requests.post(
        url, json={}, headers={"x-functions-key": sample_host.function_key}, timeout=10
    )

    assert without_key.status_code == 401
    assert with_function_key.status_code == 401


@pytest.mark.parametrize(("name", "status"), [("missing", 404), ("echo", 400)])
def test_admin_invoke_rejects_function(
    sample_host: SampleHost, name: str, status: int
) -> None:
    response = requests.post(
        f"{sample_host.base_url}/admin/functions/{name}",
        json={},
        headers={"x-functions-key": sample_host.master_key},
        timeout=10,
    )

    assert response.status_code == status


def test_admin_invoke_queue_function_with_input(sample_host: SampleHost) -> None:
    response = requests.post(
        f"{sample_host.base_url}/admin/functions/process_text",
        json={"input": "from admin"},
        headers={"x-functions-key": sample_host.master_key},
        timeout=10,
    )

    wait_for(
        lambda: [
            r
            for r in read_records(sample_host.records_file, "process_text")
            if r["body"] == "from admin"
        ],
        10,
        "the queue function to run",
    )
    assert response.status_code == 202
