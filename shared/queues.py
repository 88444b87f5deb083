"""The queues that chain the pipeline stages, and the messages they carry.

Messages are JSON, base64-encoded as the Functions host expects. A message
names a run and a task; the task row holds everything else, so messages
stay far below the 64 KiB limit.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import ResourceExistsError

from shared.models import Task
from shared.storage import StorageClients

if TYPE_CHECKING:
    # For type hints only: the queue SDK loads when the first client is made,
    # which keeps it out of the function app's import at cold start.
    from azure.storage.queue import QueueClient

logger = logging.getLogger(__name__)

PLAN_QUEUE = "factory-plan"
BUILD_QUEUE = "factory-build"
CAPTURE_QUEUE = "factory-capture"
DISTRIBUTE_QUEUE = "factory-distribute"
FINALIZE_QUEUE = "factory-finalize"
RETIRE_QUEUE = "factory-retire"
STAGE_QUEUES = (
    PLAN_QUEUE,
    BUILD_QUEUE,
    CAPTURE_QUEUE,
    DISTRIBUTE_QUEUE,
    FINALIZE_QUEUE,
    RETIRE_QUEUE,
)
POISON_SUFFIX = "-poison"

# A queue message may stay invisible for at most 7 days.
MAX_VISIBILITY_DELAY_SECONDS = 7 * 24 * 3600 - 1


@dataclass(frozen=True)
class StageMessage:
    """What every stage queue carries: the run, and for task stages the task."""

    run_id: str
    task_id: str = ""
    check: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def for_task(cls, task: Task) -> StageMessage:
        """The message that moves ``task`` on, numbered with its current check count."""
        return cls(run_id=task.run_id, task_id=task.task_id, check=task.checks)

    @classmethod
    def from_json(cls, body: str | bytes) -> StageMessage:
        data: Any = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
            raise ValueError(
                f"invalid stage message {body!r}: expected a JSON object with run_id"
            )
        return cls(
            run_id=data["run_id"],
            task_id=str(data.get("task_id", "")),
            check=int(data.get("check", 0)),
        )


class StageQueues:
    """Sends stage messages, optionally with a visibility delay (the monitor pattern)."""

    def __init__(self, clients: StorageClients) -> None:
        self._storage = clients
        self._service = clients.queues
        self._clients: dict[str, QueueClient] = {}

    def client(self, name: str) -> QueueClient:
        client = self._clients.get(name)
        if client is None:
            client = self._storage.queue_client(name)
            self._clients[name] = client
        return client

    def ensure_queues(self) -> None:
        for name in STAGE_QUEUES:
            for queue in (name, name + POISON_SUFFIX):
                with contextlib.suppress(ResourceExistsError):
                    self._service.create_queue(queue)

    def send(self, queue: str, message: StageMessage, delay_seconds: float = 0) -> None:
        delay = max(0, min(round(delay_seconds), MAX_VISIBILITY_DELAY_SECONDS))
        self.client(queue).send_message(
            message.to_json(),
            visibility_timeout=delay or None,
            # Never expire: a delayed monitor message must outlive its delay.
            time_to_live=-1,
        )
        logger.debug("sent %s to %s (delay %ss)", message, queue, delay)
