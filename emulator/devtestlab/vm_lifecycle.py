"""Move lab VMs along their timeline: provisioning, artifacts, deletion.

Each step takes effect at its scheduled emulated time. The emulator applies
due steps on each request and on a background tick, and stamps each step
with its scheduled time, so timestamps do not depend on when it looks. The
steps write the OS disk's page blob when the compute VM is created, and
rewrite the record at the start of the disk after each artifact succeeds.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from emulator import vhd
from emulator.blobs import StorageError
from emulator.compute.models import ManagedDisk, compute_id
from emulator.devtestlab.base import BackendBase
from emulator.devtestlab.models import Lab, VirtualMachine

logger = logging.getLogger(__name__)


def disk_record(vm: VirtualMachine, lab: Lab) -> dict[str, Any]:
    """Describe what the VM's OS disk contains: its source and the artifacts applied."""
    return {
        "osType": vm.os_type,
        "vm": lab.child_id("virtualmachines", vm.name),
        "source": vm.source_record,
        "artifacts": [
            artifact.record()
            for artifact in vm.artifacts
            if artifact.status == "Succeeded"
        ],
        "generalized": vm.power_state == "Deallocated",
    }


class VmLifecycleMixin(BackendBase):
    def advance_vms(self, now: float) -> None:
        for key, vm in list(self.ctx.state.vms.items()):
            lab = self.ctx.state.labs[vm.lab_key]
            try:
                while vm.phase_ends_at is not None and vm.phase_ends_at <= now:
                    self._step(key, vm, lab, vm.phase_ends_at)
            except StorageError as exc:
                self.report_storage_error(key, exc)
            else:
                self.clear_storage_error(key)

    def _step(self, key: str, vm: VirtualMachine, lab: Lab, at: float) -> None:
        if vm.phase == "provisioning":
            self._create_compute(vm, lab, at)
            self._start_next_artifact(vm, lab, at)
        elif vm.phase == "artifacts":
            self._finish_artifact(vm, lab, at)
        elif vm.phase == "deleting":
            self._remove_vm(key, vm, lab, at)
        else:
            vm.phase_ends_at = None
        self.ctx.state.mark_dirty()

    def _create_compute(self, vm: VirtualMachine, lab: Lab, at: float) -> None:
        created = self.ctx.clock.wall_datetime(at)
        disk = ManagedDisk(
            subscription_id=lab.subscription_id,
            resource_group=vm.compute_resource_group,
            name=vm.os_disk_name,
            location=lab.location,
            lab_key=lab.key,
            vm_key=f"{lab.key}/virtualmachines/{vm.name.lower()}",
            vm_name=vm.name,
            os_type=vm.os_type,
            container=lab.disk_container,
            blob=f"{vm.os_disk_name}.vhd",
            created=self.ctx.wall_iso(at),
            unique_id=str(uuid.uuid4()),
            image_reference=self._image_reference(vm, lab),
        )
        vm.power_state = "Running"
        self._write_disk(disk, disk_record(vm, lab), created)
        self.ctx.state.disks[disk.key] = disk
        vm.compute_created = True
        logger.info("VM %s in lab %s: compute VM created", vm.name, lab.name)

    def _write_disk(
        self, disk: ManagedDisk, record: dict[str, Any], created: datetime
    ) -> None:
        data = vhd.build_disk(record, uuid.UUID(disk.unique_id), created)
        self.ctx.blobs.write_page_blob(disk.container, disk.blob, data)

    def _rewrite_record(self, vm: VirtualMachine, lab: Lab) -> None:
        disk = self._disk_of(vm, lab)
        if disk is None:
            return
        header = vhd.encode_record(disk_record(vm, lab)).ljust(
            vhd.HEADER_MAX_BYTES, b"\0"
        )
        self.ctx.blobs.write_pages(disk.container, disk.blob, 0, header)

    def _start_next_artifact(self, vm: VirtualMachine, lab: Lab, at: float) -> None:
        if vm.artifact_index >= len(vm.artifacts):
            self._finish_vm(vm, lab, at, "Succeeded")
            return
        artifact = vm.artifacts[vm.artifact_index]
        artifact.status = "Installing"
        artifact.install_time = self.ctx.wall_iso(at)
        vm.phase = "artifacts"
        vm.phase_ends_at = at + artifact.duration

    def _finish_artifact(self, vm: VirtualMachine, lab: Lab, at: float) -> None:
        artifact = vm.artifacts[vm.artifact_index]
        if artifact.fails:
            artifact.mark_failed(f"customScriptArtifact-{self.ctx.timings.digits(9)}")
            for later in vm.artifacts[vm.artifact_index + 1 :]:
                later.status = "Skipped"
            logger.info("VM %s: artifact %s failed", vm.name, artifact.name)
            self._finish_vm(vm, lab, at, "Failed", artifact.title)
            return

        artifact.status = "Succeeded"
        if artifact.generalizes:
            vm.power_state = "Deallocated"
        try:
            self._rewrite_record(vm, lab)
        except StorageError:
            artifact.status = "Installing"
            vm.power_state = "Running" if artifact.generalizes else vm.power_state
            raise
        vm.artifact_index += 1
        self._start_next_artifact(vm, lab, at)

    def _finish_vm(
        self,
        vm: VirtualMachine,
        lab: Lab,
        at: float,
        state: str,
        failed_artifact: str | None = None,
    ) -> None:
        vm.provisioning_state = state
        vm.phase = "done"
        vm.phase_ends_at = None
        error = None
        if failed_artifact is not None:
            error = {
                "code": "ResourceDeploymentFailure",
                "message": f"The '{failed_artifact}' artifact failed to install. "
                "See artifact result for details.",
            }
            vm.failure = error
        self.finish_operation(vm.operation_id, at, state, error)
        logger.info("VM %s in lab %s: provisioning %s", vm.name, lab.name, state)

    def _remove_vm(self, key: str, vm: VirtualMachine, lab: Lab, at: float) -> None:
        disk = self._disk_of(vm, lab)
        if disk is not None:
            self.ctx.blobs.delete(disk.container, disk.blob)
            del self.ctx.state.disks[disk.key]
        del self.ctx.state.vms[key]
        self.finish_operation(vm.delete_operation_id, at, "Succeeded")
        logger.info("VM %s in lab %s: deleted", vm.name, lab.name)

    def _disk_of(self, vm: VirtualMachine, lab: Lab) -> ManagedDisk | None:
        disk_key = compute_id(
            lab.subscription_id, vm.compute_resource_group, "disks", vm.os_disk_name
        ).lower()
        return self.ctx.state.disks.get(disk_key)

    @staticmethod
    def _image_reference(vm: VirtualMachine, lab: Lab) -> str:
        if vm.custom_image_id:
            return vm.custom_image_id
        image = vm.gallery_image or {}
        return (
            f"/Subscriptions/{lab.subscription_id}/Providers/Microsoft.Compute/Locations/"
            f"{lab.location}/Publishers/{image.get('publisher')}/ArtifactTypes/VMImage/Offers/"
            f"{image.get('offer')}/Skus/{image.get('sku')}/Versions/{image.get('version')}"
        )
