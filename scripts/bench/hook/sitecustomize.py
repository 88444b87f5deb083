"""Count the storage requests of the process it is loaded into, for the benchmark.

Python imports ``sitecustomize`` at start-up from the first directory on
``sys.path`` that has one. The benchmark puts this directory on the dev
host's ``PYTHONPATH`` together with ``FACTORY_BENCH_STORAGE_COUNTS``, the
path of a JSON file. Every request that the process sends through
``requests`` (which the Azure SDK clients use) to one of the storage
endpoints in ``AzureWebJobsStorage`` is counted by service, method, kind and
table, queue or container name. A thread rewrites the file twice a second.
Without the variable this module does nothing.

The module imports nothing from the repository, because it runs before the
interpreter puts the working directory on ``sys.path``.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

COUNTS_VARIABLE = "FACTORY_BENCH_STORAGE_COUNTS"
STORAGE_VARIABLE = "AzureWebJobsStorage"
FLUSH_SECONDS = 0.5
_ENDPOINT_KEYS = {
    "BlobEndpoint": "blob",
    "QueueEndpoint": "queue",
    "TableEndpoint": "table",
}
_TABLE_ENTITY = re.compile(r"^([^/(]+)\((.*)\)$")


def storage_ports(connection_string: str) -> dict[int, str]:
    """Map each endpoint port in a connection string to its service name."""
    ports: dict[int, str] = {}
    for part in connection_string.split(";"):
        key, _, value = part.partition("=")
        service = _ENDPOINT_KEYS.get(key.strip())
        if service and value:
            port = urlsplit(value).port
            if port is not None:
                ports[port] = service
    return ports


def classify(service: str, method: str, path: str) -> str:
    """Name one storage request as ``service|method|kind|resource``."""
    parts = [p for p in path.split("/") if p]
    # The first segment is the account name in Azurite's path-style URLs.
    rest = parts[1:] if len(parts) > 1 else []
    resource = rest[0] if rest else ""
    kind = "service"
    if service == "table":
        match = _TABLE_ENTITY.match(resource)
        if resource == "$batch":
            kind, resource = "batch", ""
        elif match:
            kind = "query" if match.group(2) == "" else "entity"
            resource = match.group(1)
        elif resource:
            kind = "table" if resource.lower() == "tables" else "insert"
    elif service == "queue":
        # The path is <queue>, <queue>/messages or <queue>/messages/<id>.
        kind = "queue"
        if len(rest) == 2:
            kind = "messages"
        elif len(rest) > 2:
            kind = "message"
    elif service == "blob":
        kind = "blob" if len(rest) > 1 else "container"
    return f"{service}|{method.upper()}|{kind}|{resource}"


class _Recorder:
    def __init__(self, target: str, ports: dict[int, str]) -> None:
        self.target = target
        self.ports = ports
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.changed = False

    def record(self, method: str, url: str) -> None:
        parts = urlsplit(url)
        service = self.ports.get(parts.port or 0)
        if service is None:
            return
        key = classify(service, method, parts.path)
        with self.lock:
            self.counts[key] += 1
            self.changed = True

    def flush(self) -> None:
        with self.lock:
            if not self.changed:
                return
            snapshot: dict[str, Any] = {
                "pid": os.getpid(),
                "written_at": time.time(),
                "counts": dict(self.counts),
            }
            self.changed = False
        temporary = f"{self.target}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as sink:
            json.dump(snapshot, sink)
        os.replace(temporary, self.target)

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            try:
                self.flush()
            except OSError:
                continue


def _install(target: str) -> None:
    import requests.adapters

    recorder = _Recorder(target, storage_ports(os.environ.get(STORAGE_VARIABLE, "")))
    original = requests.adapters.HTTPAdapter.send

    def counting_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        recorder.record(str(request.method), str(request.url))
        return original(self, request, *args, **kwargs)

    requests.adapters.HTTPAdapter.send = counting_send  # type: ignore[method-assign]
    threading.Thread(
        target=recorder.flush_forever, name="bench-storage-counts", daemon=True
    ).start()
    atexit.register(recorder.flush)


if os.environ.get(COUNTS_VARIABLE):
    _install(os.environ[COUNTS_VARIABLE])
