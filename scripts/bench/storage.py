"""Storage requests of the dev host, split into the app's own and the host's.

The counting hook (``hook/sitecustomize.py``) names each request
``service|method|kind|resource``. The app sends every table and blob
request and puts messages on the stage queues. The host receives, deletes
and leases messages, moves them to poison queues and creates queues.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


def is_app_request(key: str) -> bool:
    service, method, kind, resource = key.split("|", 3)
    if service in ("table", "blob"):
        return True
    return method == "POST" and kind == "messages" and not resource.endswith("-poison")


@dataclass(frozen=True)
class StorageUse:
    """Storage requests during one measurement, by who sent them and by kind."""

    app: dict[str, int]
    host: dict[str, int]

    @property
    def app_total(self) -> int:
        return sum(self.app.values())

    @property
    def host_total(self) -> int:
        return sum(self.host.values())

    def app_by_service(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for key, count in self.app.items():
            totals[key.split("|", 1)[0]] += count
        return dict(totals)

    def table_operations(self) -> dict[str, int]:
        """App table requests by method and kind, e.g. ``POST batch``."""
        totals: Counter[str] = Counter()
        for key, count in self.app.items():
            service, method, kind, _ = key.split("|", 3)
            if service == "table":
                totals[f"{method} {kind}"] += count
        return dict(totals)


def storage_use(before: Mapping[str, int], after: Mapping[str, int]) -> StorageUse:
    """Return the requests counted between two readings of the hook's file."""
    app: dict[str, int] = {}
    host: dict[str, int] = {}
    for key, count in after.items():
        delta = count - before.get(key, 0)
        if delta <= 0:
            continue
        (app if is_app_request(key) else host)[key] = delta
    return StorageUse(app, host)
