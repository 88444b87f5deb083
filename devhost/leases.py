"""Renewal of the visibility lease of queue messages while their function runs.

Like the Storage queue extension, the dev host receives messages with a long
visibility timeout and extends it when half of it has passed. A message
therefore stays invisible while its function runs, and the messages of a
crashed host reappear once their lease ends.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from azure.core.exceptions import AzureError
from azure.storage.queue import QueueClient

from devhost.storage import redact

logger = logging.getLogger(__name__)


@dataclass
class Lease:
    """A received message's id and current pop receipt, which each renewal replaces."""

    message_id: str
    pop_receipt: str
    renew_at: float
    active: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)


class LeaseKeeper:
    """Renew the leases of in-flight messages of one queue from a background thread."""

    def __init__(self, client: QueueClient, lease_seconds: int) -> None:
        self._client = client
        self._lease_seconds = lease_seconds
        self._leases: dict[str, Lease] = {}
        self._guard = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"devhost-lease-{client.queue_name}", daemon=True
        )

    def start(self) -> None:
        """Start the renewal thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop renewing; leases not yet released run out on their own."""
        self._stopping.set()

    def track(self, message_id: str, pop_receipt: str) -> Lease:
        """Start renewing the lease of a received message."""
        lease = Lease(
            message_id, pop_receipt, time.monotonic() + self._lease_seconds / 2
        )
        with self._guard:
            self._leases[message_id] = lease
        return lease

    def release(self, lease: Lease) -> str:
        """Stop renewing the lease and return the latest pop receipt, which delete and update need."""
        with lease.lock:
            lease.active = False
        with self._guard:
            self._leases.pop(lease.message_id, None)
        return lease.pop_receipt

    def _run(self) -> None:
        interval = min(1.0, self._lease_seconds / 4)
        while not self._stopping.wait(interval):
            with self._guard:
                due = [
                    lease
                    for lease in self._leases.values()
                    if lease.renew_at <= time.monotonic()
                ]
            for lease in due:
                self._renew(lease)

    def _renew(self, lease: Lease) -> None:
        with lease.lock:
            if not lease.active:
                return
            try:
                receipt = self._client.update_message(
                    lease.message_id,
                    lease.pop_receipt,
                    visibility_timeout=self._lease_seconds,
                )
            except AzureError as exc:
                # The message can now reappear while its function runs, which
                # at-least-once delivery allows; the next renewal may still succeed.
                logger.warning(
                    "renewing the lease of message %s in queue %s failed: %s",
                    lease.message_id,
                    self._client.queue_name,
                    redact(exc),
                )
                lease.renew_at = time.monotonic() + self._lease_seconds / 4
                return
            lease.pop_receipt = receipt.pop_receipt or lease.pop_receipt
            lease.renew_at = time.monotonic() + self._lease_seconds / 2
