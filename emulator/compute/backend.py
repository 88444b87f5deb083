"""The compute backend: the managed OS disks of lab VMs and access to them.

Operations: Disks_Get, Disks_ListByResourceGroup, Disks_GrantAccess
(beginGetAccess), Disks_RevokeAccess (endGetAccess), and the status of
their long-running operations. Disks exist while their lab VM has a
compute VM; they are deleted with it.

Not emulated: creating, updating or deleting disks directly, snapshots,
images, write access, and the other Microsoft.Compute resources.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from emulator import errors
from emulator.compute.models import ManagedDisk
from emulator.context import Context
from emulator.operations import FAILED, IN_PROGRESS, SUCCEEDED, Operation

logger = logging.getLogger(__name__)

PROVIDER = "Microsoft.Compute"
MAX_ACCESS_SECONDS = 7 * 24 * 3600


class ComputeBackend:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get_disk(
        self, subscription_id: str, resource_group: str, name: str
    ) -> ManagedDisk:
        self._check_resource_group(subscription_id, resource_group)
        for disk in self.ctx.state.disks.values():
            if (
                disk.resource_group.lower() == resource_group.lower()
                and disk.name.lower() == name.lower()
            ):
                return disk
        raise errors.resource_not_found("Microsoft.Compute/disks", name, resource_group)

    def list_disks(
        self, subscription_id: str, resource_group: str
    ) -> list[ManagedDisk]:
        self._check_resource_group(subscription_id, resource_group)
        disks = [
            disk
            for disk in self.ctx.state.disks.values()
            if disk.resource_group.lower() == resource_group.lower()
        ]
        return sorted(disks, key=lambda disk: disk.name.lower())

    def disk_state(self, disk: ManagedDisk) -> str:
        if (
            disk.access_expires_unix is not None
            and disk.access_expires_unix > time.time()
        ):
            return "ActiveSAS"
        vm = self.ctx.state.vms.get(disk.vm_key)
        if vm is not None and vm.power_state == "Running":
            return "Attached"
        return "Reserved"

    def owner_lab_id(self, subscription_id: str, resource_group: str) -> str | None:
        """Return the id of the lab whose VM owns a compute resource group."""
        for vm in self.ctx.state.vms.values():
            if vm.compute_resource_group.lower() == resource_group.lower():
                return self.ctx.state.labs[vm.lab_key].id
        return None

    def grant_access(
        self, disk: ManagedDisk, body: dict[str, Any], api_version: str
    ) -> Operation:
        """Start granting a read SAS on the disk's page blob."""
        access = str(body.get("access", ""))
        if access.lower() != "read":
            raise errors.InvalidParameter(
                f"The access level '{access}' is not supported; the emulator grants Read access.",
                target="grantAccessData.access",
            )
        duration = body.get("durationInSeconds")
        if not isinstance(duration, int) or not 0 < duration <= MAX_ACCESS_SECONDS:
            raise errors.InvalidParameter(
                f"durationInSeconds must be an integer from 1 to {MAX_ACCESS_SECONDS}, got {duration!r}.",
                target="grantAccessData.durationInSeconds",
            )

        vm = self.ctx.state.vms.get(disk.vm_key)
        if vm is not None and vm.power_state == "Running":
            raise errors.OperationNotAllowed(
                f"Cannot perform GetAccess on disk '{disk.name}' because it is attached to VM "
                f"'{disk.vm_compute_id}', which is running. Stop and deallocate the VM first."
            )

        expired = (
            self.ctx.faults.for_resource("blob_copy_failure", disk.name) is not None
        )
        if expired:
            logger.info("granting an expired SAS on disk %s (fault)", disk.name)
        # SAS lifetimes are wall time: Azurite checks them against the real clock.
        sas = self.ctx.blobs.sas_url(
            disk.container, disk.blob, "r", timedelta(seconds=duration), expired=expired
        )
        operation = self._new_operation(
            disk, "grant_access", api_version, "grant_access"
        )
        operation.output = {"accessSAS": sas}
        disk.access_expires_unix = time.time() + duration
        return operation

    def revoke_access(self, disk: ManagedDisk, api_version: str) -> Operation:
        return self._new_operation(disk, "revoke_access", api_version, "revoke_access")

    def get_operation(self, subscription_id: str, operation_id: str) -> Operation:
        if subscription_id.lower() != self.ctx.subscription_id.lower():
            raise errors.SubscriptionNotFound(
                f"The subscription '{subscription_id}' could not be found."
            )
        operation = self.ctx.state.operations.get(operation_id)
        if operation is None or operation.provider != PROVIDER:
            raise errors.ResourceNotFound(
                f"The operation '{operation_id}' was not found."
            )
        return operation

    def advance(self, now: float) -> None:
        for operation in self.ctx.state.operations.values():
            if operation.provider != PROVIDER or operation.status != IN_PROGRESS:
                continue
            if operation.done_at is None or operation.done_at > now:
                continue
            self._finish(operation, operation.done_at)

    def _finish(self, operation: Operation, at: float) -> None:
        disk = self.ctx.state.disks.get(operation.target_key)
        operation.ended = self.ctx.wall_iso(at)
        if disk is None:
            operation.status = FAILED
            operation.error = {
                "code": "ResourceNotFound",
                "message": "The disk was deleted.",
            }
        else:
            if operation.kind == "revoke_access":
                disk.access_expires_unix = None
            operation.status = SUCCEEDED
        self.ctx.state.mark_dirty()

    def _new_operation(
        self, disk: ManagedDisk, kind: str, api_version: str, timing: str
    ) -> Operation:
        now = self.ctx.clock.now()
        operation = Operation(
            id=str(uuid.uuid4()),
            provider=PROVIDER,
            subscription_id=disk.subscription_id,
            location=disk.location,
            kind=kind,
            target_key=disk.key,
            started=self.ctx.wall_iso(now),
            api_version=api_version,
            done_at=now + self.ctx.timings.sample(timing),
        )
        self.ctx.state.operations[operation.id] = operation
        self.ctx.state.mark_dirty()
        return operation

    def _check_resource_group(self, subscription_id: str, resource_group: str) -> None:
        if subscription_id.lower() != self.ctx.subscription_id.lower():
            raise errors.SubscriptionNotFound(
                f"The subscription '{subscription_id}' could not be found."
            )
        if self.owner_lab_id(subscription_id, resource_group) is None:
            raise errors.ResourceGroupNotFound(
                f"Resource group '{resource_group}' could not be found."
            )
