from __future__ import annotations

import pytest

from shared.keys import escape_key, unescape_key


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("linux/ubuntu", "linux%2Fubuntu"),
        ("a\\b#c?d", "a%5Cb%23c%3Fd"),
        ("100%", "100%25"),
        ("tab\there", "tab%09here"),
        ("del\x7f", "del%7F"),
        ("plain-name_1.2", "plain-name_1.2"),
    ],
)
def test_escape_key_table(raw: str, escaped: str) -> None:
    assert escape_key(raw) == escaped
    assert unescape_key(escaped) == raw


def test_escape_key_output_has_no_forbidden_characters() -> None:
    escaped = escape_key("".join(chr(c) for c in range(0, 0xA0)))
    assert not set(escaped) & set("/\\#?")
    assert all(not (ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F) for c in escaped)
