"""Queue listener helpers: message decoding, poison queue names and polling backoff."""

from __future__ import annotations

import pytest

from devhost.queue_listener import (
    PollingBackoff,
    decode_message_body,
    poison_queue_name,
)


def test_decode_base64_body() -> None:
    assert decode_message_body("eyJhIjogMX0=", "base64") == b'{"a": 1}'


def test_decode_rejects_invalid_base64() -> None:
    with pytest.raises(ValueError, match="invalid base64"):
        decode_message_body('{"a": 1}', "base64")


def test_decode_none_encoding_keeps_text() -> None:
    assert decode_message_body('{"a": 1}', "none") == b'{"a": 1}'


@pytest.mark.parametrize(
    ("queue_name", "expected"),
    [
        ("factory-plan", "factory-plan-poison"),
        ("factory-plan-poison", None),
        ("q" * 56, "q" * 56 + "-poison"),
        ("q" * 57, None),
    ],
)
def test_poison_queue_name(queue_name: str, expected: str | None) -> None:
    assert poison_queue_name(queue_name) == expected


def test_backoff_grows_to_maximum() -> None:
    backoff = PollingBackoff(maximum=2.0)

    delays = [backoff.next_delay(found_messages=False) for _ in range(10)]

    assert delays[0] < delays[2] < delays[4]
    assert max(delays) == 2.0


def test_backoff_resets_after_messages() -> None:
    backoff = PollingBackoff(maximum=2.0)
    for _ in range(10):
        backoff.next_delay(found_messages=False)

    assert backoff.next_delay(found_messages=True) == 0.1
