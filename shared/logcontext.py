"""Log context (run id, task id, stage) on every record, and redaction of secrets.

The trigger adapters open a :func:`log_context` around each invocation; a
log record factory copies the context onto every record created inside it,
whatever logger creates it, so formatters and exporters can use
``%(run_id)s``, ``%(task_id)s`` and ``%(stage)s``. The same factory removes
SAS signatures, bearer tokens and passwords from the message text.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

CONTEXT_FIELDS = ("run_id", "task_id", "stage")
_context: ContextVar[dict[str, str] | None] = ContextVar(
    "factory_log_context", default=None
)
_installed = False

_SECRET_PATTERNS = [
    # SAS signature in a URL query: sig=<base64>.
    (re.compile(r"(?i)([?&]sig=)[^&\s'\"]+"), r"\1REDACTED"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_.~+/]+=*"), r"\1REDACTED"),
    (
        re.compile(
            r"(?i)(\"?(?:password|accountkey|client_secret)\"?\s*[=:]\s*\"?)[^\"\s;,&]+"
        ),
        r"\1REDACTED",
    ),
    # Credentials in a URL: https://user:secret@host.
    (re.compile(r"(https?://[^/\s:@]+:)[^@\s/]+@"), r"\1REDACTED@"),
]


def redact(text: str) -> str:
    """Return ``text`` with SAS signatures, bearer tokens and passwords replaced."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@contextlib.contextmanager
def log_context(**values: str) -> Iterator[None]:
    """Add ``values`` (run_id, task_id, stage) to every record logged inside the block."""
    token = _context.set(
        {**(_context.get() or {}), **{k: v for k, v in values.items() if v}}
    )
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, str]:
    return dict(_context.get() or {})


def install() -> None:
    """Install the record factory once per process; later calls do nothing."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        context = _context.get() or {}
        for name in CONTEXT_FIELDS:
            setattr(record, name, context.get(name, ""))
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return (
                record  # a broken format string: leave it to the handler's error path
            )
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
