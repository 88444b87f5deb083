"""Managed disks of lab VMs and the ARM JSON they render."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from emulator import vhd

DISK_TYPE = "Microsoft.Compute/disks"


def compute_id(subscription_id: str, resource_group: str, kind: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Compute/{kind}/{name}"
    )


@dataclass
class ManagedDisk:
    """The OS disk of a lab VM, stored as a page blob in the lab's disk container."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    lab_key: str
    vm_key: str
    vm_name: str
    os_type: str
    container: str
    blob: str
    created: str
    unique_id: str
    image_reference: str
    access_expires_unix: float | None = None

    @property
    def id(self) -> str:
        return compute_id(self.subscription_id, self.resource_group, "disks", self.name)

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def vm_compute_id(self) -> str:
        return compute_id(
            self.subscription_id, self.resource_group, "virtualMachines", self.vm_name
        )

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> ManagedDisk:
        return cls(**data)

    def to_arm(self, disk_state: str) -> dict[str, Any]:
        return {
            "managedBy": self.vm_compute_id,
            "sku": {"name": "Standard_LRS", "tier": "Standard"},
            "properties": {
                "osType": self.os_type,
                "hyperVGeneration": "V1",
                "creationData": {
                    "createOption": "FromImage",
                    "imageReference": {"id": self.image_reference},
                },
                # NOTE: emulated disks hold 1 MiB of data, not a real OS.
                "diskSizeGB": 1,
                "diskSizeBytes": vhd.DATA_BYTES,
                "uniqueId": self.unique_id,
                "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                "networkAccessPolicy": "AllowAll",
                "publicNetworkAccess": "Enabled",
                "timeCreated": self.created,
                "LastOwnershipUpdateTime": self.created,
                "provisioningState": "Succeeded",
                "diskState": disk_state,
            },
            "type": DISK_TYPE,
            "location": self.location,
            "tags": {},
            "id": self.id,
            "name": self.name,
        }
