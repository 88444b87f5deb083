"""Table Storage key escaping.

PartitionKey and RowKey may not contain ``/``, ``\\``, ``#``, ``?`` or control
characters. Image names contain ``/``, so keys percent-encode those
characters (and ``%`` itself), which keeps keys readable and reversible.
"""

from __future__ import annotations

_FORBIDDEN = {"/", "\\", "#", "?", "%"}


def _needs_escape(char: str) -> bool:
    code = ord(char)
    return char in _FORBIDDEN or code <= 0x1F or 0x7F <= code <= 0x9F


def escape_key(value: str) -> str:
    """Return ``value`` with the characters Table Storage forbids in keys percent-encoded."""
    return "".join(f"%{ord(c):02X}" if _needs_escape(c) else c for c in value)


def unescape_key(key: str) -> str:
    """Reverse :func:`escape_key`."""
    out: list[str] = []
    i = 0
    while i < len(key):
        if key[i] == "%" and i + 3 <= len(key):
            out.append(chr(int(key[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(key[i])
            i += 1
    return "".join(out)
