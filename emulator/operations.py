"""Long-running operations: the records behind Azure-AsyncOperation and Location.

DevTest Labs operations take their status from the resource they act on
(a VM create succeeds when the VM does). Compute operations (disk access)
finish at a fixed emulated time and then carry their output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from emulator.clock import ScaledClock
from emulator.throttling import retry_after
from emulator.timings import POLL_INTERVAL_SECONDS

IN_PROGRESS = "InProgress"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
TERMINAL = (SUCCEEDED, FAILED, "Canceled")


@dataclass
class Operation:
    id: str
    provider: str
    subscription_id: str
    location: str
    kind: str
    target_key: str
    started: str
    api_version: str
    done_at: float | None = None
    ended: str | None = None
    status: str = IN_PROGRESS
    error: dict[str, str] | None = None
    output: dict[str, Any] | None = None

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Operation:
        return cls(**data)

    def status_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/providers/{self.provider}"
            f"/locations/{self.location}/operations/{self.id}"
        )

    def result_path(self) -> str:
        if self.provider == "Microsoft.Compute":
            return self.status_path()
        return (
            f"/subscriptions/{self.subscription_id}/providers/{self.provider}"
            f"/locations/{self.location}/operationResults/{self.id}"
        )

    def headers(
        self, base_url: str, clock: ScaledClock, *, location: bool
    ) -> dict[str, str]:
        """Return the Azure-AsyncOperation (and Location) headers of the initial response."""
        query = f"?api-version={self.api_version}"
        headers = {"Azure-AsyncOperation": f"{base_url}{self.status_path()}{query}"}
        if location:
            monitor = "&monitor=true" if self.provider == "Microsoft.Compute" else ""
            headers["Location"] = f"{base_url}{self.result_path()}{query}{monitor}"
        headers.update(retry_after(clock, POLL_INTERVAL_SECONDS))
        return headers
