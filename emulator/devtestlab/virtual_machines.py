"""Lab VM operations: VirtualMachines_CreateOrUpdate, _Get, _List, _Delete.

A new VM is created over a scaled duration and then gets its artifacts in
order, each over its own duration, as ``vm_lifecycle`` moves it along. The
VM stays in provisioning state Creating until the last artifact ends. It
then becomes Succeeded, or Failed when an artifact failed, and the
artifacts after the failed one become Skipped.

Not emulated: updating a VM beyond its tags and notes, data disks,
schedules, claim and unclaim, start, stop, resize, redeploy, applying
artifacts to an existing VM, environments and formulas.
"""

from __future__ import annotations

import uuid
from typing import Any

from emulator import errors
from emulator.devtestlab.base import BackendBase
from emulator.devtestlab.models import ArtifactRun, CustomImage, Lab, VirtualMachine
from emulator.devtestlab.validation import (
    ResolvedArtifact,
    check_location,
    check_os_type,
    check_size,
    check_vm_name,
    resolve_artifacts,
)
from emulator.operations import Operation
from emulator.vhd import HEADER_MAX_BYTES, decode_record
from emulator.wire import Principal

BUSY_STATES = ("Creating", "Deleting")
DEFAULT_FAILURE_TEXT = "The artifact script exited with code 1."


def vm_key(lab: Lab, name: str) -> str:
    return f"{lab.key}/virtualmachines/{name.lower()}"


class VirtualMachinesMixin(BackendBase):
    def get_vm(self, lab: Lab, name: str) -> VirtualMachine:
        vm = self.ctx.state.vms.get(vm_key(lab, name))
        if vm is None:
            raise errors.resource_not_found(
                "Microsoft.DevTestLab/labs/virtualmachines",
                f"{lab.name}/{name}",
                lab.resource_group,
            )
        return vm

    def list_vms(self, lab: Lab) -> list[VirtualMachine]:
        vms = [vm for vm in self.ctx.state.vms.values() if vm.lab_key == lab.key]
        return sorted(vms, key=lambda vm: vm.name.lower())

    def create_or_update_vm(
        self, lab: Lab, name: str, body: dict[str, Any], principal: Principal
    ) -> tuple[VirtualMachine, bool]:
        """Create a VM, or update the tags and notes of a finished one.

        Returns the VM and whether it was created. A VM that is still being
        created or deleted rejects the request with 409 Conflict.
        """
        existing = self.ctx.state.vms.get(vm_key(lab, name))
        if existing is not None:
            return self._update_vm(existing, body), False

        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise errors.InvalidRequestContent(
                "The request content was invalid: properties must be an object."
            )

        check_location(body.get("location"), lab)
        os_type, gallery_image, custom_image, source_record = self._vm_source(
            lab, properties
        )
        check_vm_name(name, os_type)
        size = check_size(properties.get("size"), lab)
        self._check_credentials(properties, os_type)
        resolved = resolve_artifacts(
            properties.get("artifacts") or [], lab, os_type, self.ctx.catalog
        )
        self._check_vm_count(lab)

        vm = self._new_vm(lab, name, body, properties, principal)
        vm.size = size
        vm.os_type = os_type
        vm.gallery_image = gallery_image
        if custom_image is not None:
            vm.custom_image_id = lab.child_id("customimages", custom_image.name)
        vm.source_record = source_record
        vm.artifacts = [self._artifact_run(item) for item in resolved]

        stalled = self.ctx.faults.for_resource("stall", name) is not None
        now = self.ctx.clock.now()
        vm.phase_ends_at = (
            None if stalled else now + self.ctx.timings.sample("vm_create")
        )
        self.ctx.state.vms[vm_key(lab, name)] = vm
        self.ctx.state.mark_dirty()
        return vm, True

    def delete_vm(self, lab: Lab, name: str) -> Operation | None:
        """Start deleting a VM and return the operation, or None when there is no such VM."""
        vm = self.ctx.state.vms.get(vm_key(lab, name))
        if vm is None:
            return None

        if vm.phase == "deleting" and vm.delete_operation_id:
            return self.ctx.state.operations[vm.delete_operation_id]

        now = self.ctx.clock.now()
        if vm.provisioning_state == "Creating":
            self.finish_operation(vm.operation_id, now, "Canceled")
        operation = self.new_operation(lab, "vm_delete", vm_key(lab, name))
        vm.phase = "deleting"
        vm.provisioning_state = "Deleting"
        vm.phase_ends_at = now + self.ctx.timings.sample("vm_delete")
        vm.delete_operation_id = operation.id
        self.ctx.state.mark_dirty()
        return operation

    def _update_vm(self, vm: VirtualMachine, body: dict[str, Any]) -> VirtualMachine:
        if vm.provisioning_state in BUSY_STATES:
            raise errors.Conflict(
                f"The resource '{vm.name}' is not in a valid state '{vm.provisioning_state}' "
                "for operation 'PUT'. Wait until the operation in progress finishes."
            )
        properties = body.get("properties") or {}
        if isinstance(body.get("tags"), dict):
            vm.tags = {str(key): str(value) for key, value in body["tags"].items()}
        if isinstance(properties, dict) and "notes" in properties:
            vm.notes = properties["notes"]
        self.ctx.state.mark_dirty()
        return vm

    def _vm_source(
        self, lab: Lab, properties: dict[str, Any]
    ) -> tuple[str, dict[str, str] | None, CustomImage | None, dict[str, Any]]:
        """Return the OS type and image of a new VM, from a gallery or custom image."""
        gallery = properties.get("galleryImageReference")
        custom_image_id = properties.get("customImageId")
        if bool(gallery) == bool(custom_image_id):
            raise errors.InvalidParameter(
                "Give exactly one of galleryImageReference and customImageId.",
                target="properties",
            )

        if gallery:
            if not isinstance(gallery, dict):
                raise errors.InvalidParameter(
                    "galleryImageReference must be an object."
                )
            for field in ("publisher", "offer", "sku", "osType"):
                if not gallery.get(field):
                    raise errors.InvalidParameter(
                        f"galleryImageReference.{field} is required.",
                        target=f"properties.galleryImageReference.{field}",
                    )
            os_type = check_os_type(
                gallery["osType"], "properties.galleryImageReference.osType"
            )
            reference = {
                key: str(gallery[key])
                for key in ("offer", "publisher", "sku", "osType")
            }
            reference["osType"] = os_type
            reference["version"] = str(gallery.get("version") or "latest")
            return os_type, reference, None, {"galleryImage": reference}

        image = self.ctx.state.images.get(str(custom_image_id).lower())
        if image is None or image.lab_key != lab.key:
            raise errors.InvalidParameter(
                f"The custom image '{custom_image_id}' was not found in lab '{lab.name}'.",
                target="properties.customImageId",
            )
        if image.provisioning_state != "Succeeded":
            raise errors.InvalidParameter(
                f"The custom image '{image.name}' is in state '{image.provisioning_state}'. "
                "A VM needs an image in state Succeeded.",
                target="properties.customImageId",
            )
        parent = decode_record(
            self.ctx.blobs.read(
                lab.image_container, image.blob_name, 0, HEADER_MAX_BYTES
            )
        )
        source = {
            "customImage": {
                "id": lab.child_id("customimages", image.name),
                "record": parent,
            }
        }
        return image.os_type, None, image, source

    @staticmethod
    def _check_credentials(properties: dict[str, Any], os_type: str) -> None:
        if not properties.get("userName"):
            raise errors.InvalidParameter(
                "The user name is required.", target="properties.userName"
            )
        if properties.get("password") or (
            os_type == "Linux" and properties.get("sshKey")
        ):
            return
        raise errors.InvalidParameter(
            "A password (or, for Linux, an SSH key) is required.",
            target="properties.password",
        )

    def _check_vm_count(self, lab: Lab) -> None:
        if lab.max_vms is None:
            return
        count = sum(
            1
            for vm in self.ctx.state.vms.values()
            if vm.lab_key == lab.key and vm.phase != "deleting"
        )
        if count >= lab.max_vms:
            raise errors.LabVmCountLimitReached(
                f"Lab '{lab.name}' already has {count} virtual machines, the maximum that its "
                f"policy LabVmCount allows ({lab.max_vms}). Delete a virtual machine first."
            )

    def _new_vm(
        self,
        lab: Lab,
        name: str,
        body: dict[str, Any],
        properties: dict[str, Any],
        principal: Principal,
    ) -> VirtualMachine:
        now = self.ctx.clock.now()
        operation = self.new_operation(lab, "vm_create", vm_key(lab, name))
        tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
        return VirtualMachine(
            lab_key=lab.key,
            name=name,
            location=lab.location,
            size="",
            os_type="",
            user_name=str(properties.get("userName")),
            storage_type=str(properties.get("storageType") or "Standard"),
            allow_claim=bool(properties.get("allowClaim", False)),
            disallow_public_ip_address=bool(
                properties.get("disallowPublicIpAddress", False)
            ),
            notes=properties.get("notes"),
            tags={str(key): str(value) for key, value in (tags or {}).items()},
            gallery_image=None,
            custom_image_id=None,
            artifacts=[],
            created=self.ctx.wall_iso(now),
            created_by=principal.principal_id,
            unique_id=str(uuid.uuid4()),
            compute_resource_group=f"{lab.name}-{name}-{self.ctx.timings.digits(6)}",
            os_disk_name=f"{name}_OsDisk_1_{self.ctx.timings.hex(32)}",
            operation_id=operation.id,
        )

    def _artifact_run(self, item: ResolvedArtifact) -> ArtifactRun:
        definition = item.definition
        fault = self.ctx.faults.for_resource("artifact_failure", definition.name)
        forced = any(
            parameter["name"].lower() == "forcefail"
            and parameter["value"].lower() == "true"
            for parameter in item.parameters
        )
        duration = self.ctx.timings.sample(
            "generalize" if definition.generalizes else "artifact"
        )
        return ArtifactRun(
            artifact_id=item.artifact_id,
            name=definition.name,
            title=definition.title,
            parameters=item.parameters,
            secret_parameters=[
                p.name for p in definition.parameters.values() if p.secret
            ],
            duration=duration,
            generalizes=definition.generalizes,
            fails=fault is not None or forced,
            failure_text=(
                fault.message if fault and fault.message else DEFAULT_FAILURE_TEXT
            ),
        )
