"""Queue triggers through the dev host: encoding, retries, poison queues and leases."""

from __future__ import annotations

import base64
import json
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.storage.queue import QueueClient, TextBase64EncodePolicy
from devhost_testing import SampleHost, read_records, wait_for

pytestmark = pytest.mark.integration

API_VERSION = "2026-06-06"


def queue(host: SampleHost, name: str, *, base64: bool = True) -> QueueClient:
    policy = TextBase64EncodePolicy() if base64 else None
    return QueueClient.from_connection_string(
        host.settings["AzureWebJobsStorage"],
        name,
        message_encode_policy=policy,
        api_version=API_VERSION,
    )


def work_queue(host: SampleHost, *, base64: bool = True) -> QueueClient:
    return queue(host, host.settings["SAMPLE_WORK_QUEUE"], base64=base64)


def poison_contents(host: SampleHost) -> list[str]:
    poison = queue(host, host.settings["SAMPLE_WORK_QUEUE"] + "-poison", base64=False)
    return [message.content for message in poison.peek_messages(max_messages=32)]


def records_with_body(
    host: SampleHost, body: str
) -> Callable[[], list[dict[str, Any]]]:
    return lambda: [
        record
        for record in read_records(host.records_file, "process_work")
        if record["body"] == body
    ]


def test_queue_base64_message_processed(sample_host: SampleHost) -> None:
    body = json.dumps({"case": "base64"})
    work_queue(sample_host).send_message(body)

    records = wait_for(
        records_with_body(sample_host, body), 10, "the message to be processed"
    )

    assert len(records) == 1
    assert records[0]["dequeue_count"] == 1
    assert records[0]["has_insertion_time"]
    assert records[0]["has_expiration_time"]
    assert records[0]["has_next_visible_time"]
    assert records[0]["has_pop_receipt"]


def test_queue_failing_message_goes_to_poison(sample_host: SampleHost) -> None:
    body = json.dumps({"case": "fail", "fail": True})
    sent = work_queue(sample_host).send_message(body)
    sent_content = base64.b64encode(body.encode()).decode()

    wait_for(
        lambda: sent_content in poison_contents(sample_host),
        15,
        "the message in the poison queue",
    )
    records = records_with_body(sample_host, body)()

    assert [record["dequeue_count"] for record in records] == [1, 2, 3]
    assert {record["id"] for record in records} == {sent.id}
    assert f"moved message {sent.id}" in sample_host.process.log_text()


def test_queue_invalid_base64_goes_to_poison(sample_host: SampleHost) -> None:
    content = "not base64 {!}"
    sent = work_queue(sample_host, base64=False).send_message(content)

    wait_for(
        lambda: content in poison_contents(sample_host),
        10,
        "the message in the poison queue",
    )
    log = sample_host.process.log_text()

    assert not records_with_body(sample_host, content)()
    assert f"moved message {sent.id}" in log
    assert "not valid base64" in log


def test_queue_async_function_gets_text(sample_host: SampleHost) -> None:
    queue(sample_host, sample_host.settings["SAMPLE_TEXT_QUEUE"]).send_message(
        "plain words"
    )

    records = wait_for(
        lambda: [
            r
            for r in read_records(sample_host.records_file, "process_text")
            if r["body"] == "plain words"
        ],
        10,
        "the async function to run",
    )

    assert len(records) == 1


def test_queue_lease_renewed_while_running(
    start_sample_host: Callable[..., SampleHost],
) -> None:
    host = start_sample_host("--message-lease", "2")
    body = json.dumps({"case": "long", "sleep": 3.5})
    work_queue(host).send_message(body)

    wait_for(records_with_body(host, body), 10, "the message to be processed")
    wait_for(
        lambda: not work_queue(host).peek_messages(), 10, "the message to be deleted"
    )

    assert len(records_with_body(host, body)()) == 1


def test_queue_message_reappears_after_crash(
    start_sample_host: Callable[..., SampleHost],
) -> None:
    first = start_sample_host("--message-lease", "2")
    body = json.dumps({"case": "crash", "sleep": 4})
    work_queue(first).send_message(body)
    wait_for(records_with_body(first, body), 10, "the message to be processed")

    first.process.send_signal(signal.SIGKILL)
    first.process.wait_exit()
    started = time.monotonic()
    second = start_sample_host(
        "--message-lease",
        "2",
        state_dir=first.process.state_dir,
        settings=first.settings,
    )
    records = wait_for(
        lambda: records_with_body(second, body)()[1:], 15, "the message to reappear"
    )

    assert records[0]["dequeue_count"] == 2
    assert time.monotonic() - started < 10
