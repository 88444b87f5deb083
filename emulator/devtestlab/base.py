"""Lab lookup and operation records, shared by the DevTest Labs backend mixins."""

from __future__ import annotations

import logging
import uuid

from emulator import errors
from emulator.context import Context
from emulator.devtestlab.models import API_VERSION, Lab
from emulator.operations import Operation

logger = logging.getLogger(__name__)

PROVIDER = "Microsoft.DevTestLab"


class BackendBase:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._reported_storage_errors: set[str] = set()

    def lab(self, subscription_id: str, resource_group: str, name: str) -> Lab:
        """Return a seeded lab, or raise the 404 ARM returns for what is missing."""
        self.check_resource_group(subscription_id, resource_group)
        key = f"/subscriptions/{subscription_id}/resourcegroups/{resource_group}"
        key += f"/providers/microsoft.devtestlab/labs/{name}"
        lab = self.ctx.state.labs.get(key.lower())
        if lab is None:
            raise errors.resource_not_found(
                "Microsoft.DevTestLab/labs", name, resource_group
            )
        return lab

    def check_subscription(self, subscription_id: str) -> None:
        if subscription_id.lower() != self.ctx.subscription_id.lower():
            raise errors.SubscriptionNotFound(
                f"The subscription '{subscription_id}' could not be found."
            )

    def check_resource_group(self, subscription_id: str, resource_group: str) -> None:
        self.check_subscription(subscription_id)
        groups = {lab.resource_group.lower() for lab in self.ctx.state.labs.values()}
        if resource_group.lower() not in groups:
            raise errors.ResourceGroupNotFound(
                f"Resource group '{resource_group}' could not be found."
            )

    def new_operation(self, lab: Lab, kind: str, target_key: str) -> Operation:
        operation = Operation(
            id=str(uuid.uuid4()),
            provider=PROVIDER,
            subscription_id=lab.subscription_id,
            location=lab.location,
            kind=kind,
            target_key=target_key,
            started=self.ctx.wall_iso(self.ctx.clock.now()),
            api_version=API_VERSION,
        )
        self.ctx.state.operations[operation.id] = operation
        return operation

    def finish_operation(
        self,
        operation_id: str | None,
        at: float,
        status: str,
        error: dict[str, str] | None = None,
    ) -> None:
        operation = self.ctx.state.operations.get(operation_id or "")
        if operation is None or operation.status in ("Succeeded", "Failed", "Canceled"):
            return
        operation.status = status
        operation.error = error
        operation.ended = self.ctx.wall_iso(at)

    def report_storage_error(self, key: str, exc: Exception) -> None:
        """Log a failed side effect once per resource; the next tick retries it."""
        if key in self._reported_storage_errors:
            return
        self._reported_storage_errors.add(key)
        logger.error("blob storage failed for %s, will retry: %s", key, exc)

    def clear_storage_error(self, key: str) -> None:
        self._reported_storage_errors.discard(key)
