"""ARM JSON of lab VMs and custom images, shaped like the 2018-09-15 examples."""

from __future__ import annotations

from typing import Any

from emulator.compute.models import compute_id
from emulator.devtestlab.models import CustomImage, Lab, VirtualMachine

_POWER_STATUS = {
    "Running": ("PowerState/running", "VM running"),
    "Deallocated": ("PowerState/deallocated", "VM deallocated"),
}
_LAST_KNOWN_POWER_STATE = {"Running": "Running", "Deallocated": "Stopped"}


def render_vm(
    vm: VirtualMachine,
    lab: Lab,
    *,
    expand_artifacts: bool = False,
    expand_compute: bool = False,
) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "ownerObjectId": "",
        "ownerUserPrincipalName": "",
        "createdByUserId": vm.created_by,
        "createdByUser": "",
        "createdDate": vm.created,
        "osType": vm.os_type,
        "size": vm.size,
        "userName": vm.user_name,
        "labSubnetName": f"Dtl{lab.name}Subnet",
        "labVirtualNetworkId": lab.child_id("virtualnetworks", f"Dtl{lab.name}"),
        "disallowPublicIpAddress": vm.disallow_public_ip_address,
        "artifactDeploymentStatus": {
            "deploymentStatus": vm.deployment_status(),
            "artifactsApplied": vm.artifacts_applied,
            "totalArtifacts": len(vm.artifacts),
        },
        "networkInterface": {},
        "allowClaim": vm.allow_claim,
        "storageType": vm.storage_type,
        "virtualMachineCreationSource": "FromCustomImage"
        if vm.custom_image_id
        else "FromGalleryImage",
        "dataDiskParameters": [],
        "provisioningState": vm.provisioning_state,
        "uniqueIdentifier": vm.unique_id,
    }
    if vm.gallery_image is not None:
        properties["galleryImageReference"] = dict(vm.gallery_image)
    if vm.custom_image_id is not None:
        properties["customImageId"] = lab.child_id(
            "customimages", vm.custom_image_id.rsplit("/", 1)[-1]
        )
    if vm.notes is not None:
        properties["notes"] = vm.notes
    if vm.compute_created:
        properties["computeId"] = _compute_vm_id(vm, lab)
    if vm.power_state is not None:
        properties["lastKnownPowerState"] = _LAST_KNOWN_POWER_STATE[vm.power_state]
    if expand_artifacts:
        properties["artifacts"] = [artifact.to_arm() for artifact in vm.artifacts]
    if expand_compute and vm.compute_created:
        properties["computeVm"] = _compute_vm(vm, lab)

    return {
        "properties": properties,
        "id": lab.child_id("virtualmachines", vm.name),
        "name": vm.name,
        "type": "Microsoft.DevTestLab/labs/virtualMachines",
        "location": vm.location,
        "tags": dict(vm.tags),
    }


def render_custom_image(image: CustomImage, lab: Lab) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "vhd": dict(image.vhd),
        "description": image.description or "",
        "author": image.author,
        "creationDate": image.created,
        "provisioningState": image.provisioning_state,
        "uniqueIdentifier": image.unique_id,
    }
    if image.provisioning_state == "Succeeded":
        properties["managedImageId"] = compute_id(
            lab.subscription_id,
            lab.resource_group,
            "images",
            f"{image.name}-{image.unique_id[:8]}",
        )
    return {
        "id": lab.child_id("customimages", image.name),
        "name": image.name,
        "type": "Microsoft.DevTestLab/labs/customImages",
        "location": image.location,
        "properties": properties,
        "tags": dict(image.tags),
    }


def _compute_vm_id(vm: VirtualMachine, lab: Lab) -> str:
    return compute_id(
        lab.subscription_id, vm.compute_resource_group, "virtualMachines", vm.name
    )


def _compute_vm(vm: VirtualMachine, lab: Lab) -> dict[str, Any]:
    statuses = [
        {
            "code": "ProvisioningState/succeeded",
            "displayStatus": "Provisioning succeeded",
        }
    ]
    if vm.power_state in _POWER_STATUS:
        code, display = _POWER_STATUS[vm.power_state]
        statuses.append({"code": code, "displayStatus": display})
    group = vm.compute_resource_group
    return {
        "statuses": statuses,
        "osType": vm.os_type,
        "vmSize": vm.size,
        "networkInterfaceId": compute_id(
            lab.subscription_id, group, "networkInterfaces", vm.name
        ).replace("Microsoft.Compute", "Microsoft.Network"),
        "osDiskId": compute_id(lab.subscription_id, group, "disks", vm.os_disk_name),
        "dataDiskIds": [],
        "dataDisks": [],
    }
