"""The request log: one entry per ARM or token request, read by tests and benchmarks.

Entries get increasing sequence numbers in the order the requests end, so
a reader that asks for the entries after the last one it saw misses none. The log also appends each entry as a JSON line
to ``requests.jsonl`` in the state directory.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MAX_ENTRIES = 100_000


@dataclass
class RequestLogEntry:
    request_id: str
    method: str
    path: str
    query: str
    status: int | None
    start: str
    end: str
    start_unix: float
    end_unix: float
    duration_ms: float
    operation_id: str | None
    principal: str | None
    fault: str | None
    error_code: str | None
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, file_path: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RequestLogEntry] = deque(maxlen=MAX_ENTRIES)
        self._sequence = itertools.count(1)
        self._file_path = file_path

    def append(self, entry: RequestLogEntry) -> None:
        """Number the entry and store it."""
        with self._lock:
            entry.seq = next(self._sequence)
            self._entries.append(entry)
            line = json.dumps(entry.to_dict())
            if self._file_path is None:
                return
            try:
                with self._file_path.open("a", encoding="utf-8") as sink:
                    sink.write(line + "\n")
            except OSError as exc:
                logger.warning("cannot append to %s: %s", self._file_path, exc)

    def since(self, seq: int, limit: int) -> list[RequestLogEntry]:
        with self._lock:
            newer = [entry for entry in self._entries if entry.seq > seq]
        return newer[:limit]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
