"""Log context (run id, task id, stage) on every record, and redaction of secrets.

The trigger adapters open a :func:`log_context` around each invocation. A
log record factory copies the context onto every record created inside it,
whatever logger creates it, in two forms:

- as the attributes ``run_id``, ``task_id`` and ``stage``, which the Azure
  Monitor OpenTelemetry exporter sends as custom dimensions;
- as a ``[run_id=... task_id=... stage=...]`` prefix of the message, because
  the Functions host forwards only the message text of a worker's log
  record to its console, log stream and Application Insights traces.

The same factory removes SAS signatures, bearer tokens, keys and passwords
from the message and from the traceback of a logged exception.
"""

from __future__ import annotations

import contextlib
import logging
import re
import traceback
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

CONTEXT_FIELDS = ("run_id", "task_id", "stage")
_context: ContextVar[dict[str, str] | None] = ContextVar(
    "factory_log_context", default=None
)
_installed = False

# Names of query parameters, headers and settings whose values are secret.
_SECRET_NAMES = (
    r"password|accountkey|sharedaccesskey|client_secret|access_token|refresh_token"
    r"|x-functions-key|x-identity-header|[a-z_]*secret"
)
_SECRET_PATTERNS = [
    # A SAS signature or a function key in a URL query: sig=<base64>, code=<key>.
    (re.compile(r"(?i)([?&](?:sig|code)=)[^&\s'\"]+"), r"\1REDACTED"),
    (re.compile(r"(?i)(bearer\s+)[A-Za-z0-9\-_.~+/]+=*"), r"\1REDACTED"),
    (
        re.compile(rf"(?i)(\"?\b(?:{_SECRET_NAMES})\"?\s*[=:]\s*\"?)[^\"\s;,&]+"),
        r"\1REDACTED",
    ),
    # Credentials in a URL: https://user:secret@host, unless already masked as ***.
    (re.compile(r"(https?://[^/\s:@]+:)(?!\*\*\*@)[^@\s/]+@"), r"\1REDACTED@"),
]


def redact(text: str) -> str:
    """Return ``text`` with SAS signatures, tokens, keys and passwords replaced."""
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


def context_prefix(context: dict[str, str]) -> str:
    """Return the ``[run_id=... stage=...] `` prefix for ``context``, or ''."""
    fields = [f"{name}={context[name]}" for name in CONTEXT_FIELDS if context.get(name)]
    return f"[{' '.join(fields)}] " if fields else ""


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
        _redact_exception(record)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # A broken format string: leave it to the handler's error path.
            return record
        text = context_prefix(context) + redact(message)
        if text != message:
            record.msg, record.args = text, None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


def _redact_exception(record: logging.LogRecord) -> None:
    """Format the record's traceback now, redacted, as ``exc_text``.

    ``logging.Formatter`` prints a record's ``exc_text`` instead of formatting
    ``exc_info`` again. When redaction changed the text, ``exc_info`` is
    dropped too, so that no handler that reads the exception itself (as the
    OpenTelemetry log handler does) sees the secret.
    """
    if not record.exc_info or record.exc_info[1] is None or record.exc_text:
        return
    text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    cleaned = redact(text)
    record.exc_text = cleaned
    if cleaned != text:
        record.exc_info = None
