"""DevTest Labs resources and the ARM JSON they render.

Resource ids are rendered in the casing DevTest Labs returns
(``/resourcegroups/``, ``/providers/microsoft.devtestlab/``), which differs
from the casing clients build; ids compare case-insensitively.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from emulator.seed import stable_uuid

API_VERSION = "2018-09-15"
LAB_TYPE = "Microsoft.DevTestLab/labs"
# The one container of a lab's storage account on the emulator's blob data
# plane; Azurite keeps its blobs in the lab's ``<prefix>-uploads`` container.
UPLOAD_CONTAINER = "uploads"


def lab_id(subscription_id: str, resource_group: str, name: str) -> str:
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.DevTestLab/labs/{name}"
    )


def storage_account_name(subscription_id: str, resource_group: str, name: str) -> str:
    """Return the name of a lab's storage account: 3-24 lowercase letters and digits."""
    letters = re.sub(r"[^a-z0-9]", "", name.lower())[:15]
    key = lab_id(subscription_id, resource_group, name).lower()
    return f"a{letters}{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def storage_account_id(subscription_id: str, resource_group: str, name: str) -> str:
    """Return the resource id of a lab's storage account, the scope of its data roles."""
    account = storage_account_name(subscription_id, resource_group, name)
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.Storage/storageAccounts/{account}"
    )


def dtl_style(resource_id: str) -> str:
    """Lower-case the fixed segments of a DevTest Labs id, as the service does."""
    return re.sub(
        r"/resourceGroups/|/providers/Microsoft\.DevTestLab/",
        lambda match: match.group(0).lower(),
        resource_id,
        flags=re.IGNORECASE,
    )


def container_slug(name: str) -> str:
    """Return a container-name prefix for a lab: 3-48 lowercase letters, digits, hyphens."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if len(slug) > 48 or len(slug) < 3:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        slug = f"{slug[:39].strip('-')}-{digest}".strip("-")
    return slug


@dataclass
class Lab:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    kind: str
    container_prefix: str
    created: str
    max_vms: int | None = None
    allowed_sizes: list[str] | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return lab_id(self.subscription_id, self.resource_group, self.name)

    @property
    def key(self) -> str:
        return self.id.lower()

    @property
    def unique_id(self) -> str:
        return stable_uuid(self.id)

    @property
    def upload_container(self) -> str:
        return f"{self.container_prefix}-uploads"

    @property
    def disk_container(self) -> str:
        return f"{self.container_prefix}-disks"

    @property
    def image_container(self) -> str:
        return f"{self.container_prefix}-images"

    @property
    def storage_account_name(self) -> str:
        return storage_account_name(
            self.subscription_id, self.resource_group, self.name
        )

    @property
    def storage_account_id(self) -> str:
        return storage_account_id(self.subscription_id, self.resource_group, self.name)

    def upload_blob_url(self, base_url: str, blob_name: str) -> str:
        """Return the URL of a blob in the lab's upload container on the blob data plane."""
        blob = quote(blob_name, safe="/~")
        return f"{base_url}/{self.storage_account_name}/{UPLOAD_CONTAINER}/{blob}"

    def child_id(self, collection: str, name: str) -> str:
        return dtl_style(f"{self.id}/{collection}/{name}")

    def to_arm(self) -> dict[str, Any]:
        group = f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
        storage = self.storage_account_id
        return {
            "properties": {
                "defaultStorageAccount": storage,
                "defaultPremiumStorageAccount": storage,
                "artifactsStorageAccount": storage,
                "premiumDataDiskStorageAccount": storage,
                "vaultName": f"{group}/providers/Microsoft.KeyVault/vaults/{self.name}{self.unique_id[:4]}",
                "labStorageType": "Standard",
                "mandatoryArtifactsResourceIdsLinux": [],
                "mandatoryArtifactsResourceIdsWindows": [],
                "createdDate": self.created,
                "premiumDataDisks": "Disabled",
                "environmentPermission": "Reader",
                "announcement": {
                    "title": "",
                    "markdown": "",
                    "enabled": "Disabled",
                    "expired": False,
                },
                "support": {"enabled": "Disabled", "markdown": ""},
                "provisioningState": "Succeeded",
                "uniqueIdentifier": self.unique_id,
            },
            "id": dtl_style(self.id),
            "name": self.name,
            "type": LAB_TYPE,
            "location": self.location,
            "tags": dict(self.tags),
        }


@dataclass
class ArtifactRun:
    """One artifact of a VM: what was requested and how its installation goes."""

    artifact_id: str
    name: str
    title: str
    parameters: list[dict[str, str]]
    secret_parameters: list[str]
    duration: float
    generalizes: bool
    fails: bool = False
    failure_text: str = ""
    status: str = "Pending"
    install_time: str | None = None
    deployment_status_message: str | None = None
    vm_extension_status_message: str | None = None

    def to_arm(self) -> dict[str, Any]:
        parameters = [
            {"name": item["name"]}
            if item["name"] in self.secret_parameters
            else dict(item)
            for item in self.parameters
        ]
        rendered: dict[str, Any] = {
            "artifactId": self.artifact_id,
            "artifactTitle": self.title,
            "parameters": parameters,
            "status": self.status,
        }
        if self.install_time is not None:
            rendered["installTime"] = self.install_time
        if self.deployment_status_message is not None:
            rendered["deploymentStatusMessage"] = self.deployment_status_message
        if self.vm_extension_status_message is not None:
            rendered["vmExtensionStatusMessage"] = self.vm_extension_status_message
        return rendered

    def record(self) -> dict[str, Any]:
        """Describe the applied artifact for the disk record; secret values are masked."""
        values = {
            item["name"]: "***"
            if item["name"] in self.secret_parameters
            else item["value"]
            for item in self.parameters
        }
        return {"name": self.name, "artifactId": self.artifact_id, "parameters": values}

    def mark_failed(self, extension_name: str) -> None:
        """Set the status messages in the shapes DevTest Labs reports for a failed artifact."""
        self.status = "Failed"
        detail = (
            f"VM has reported a failure when processing extension '{extension_name}'. "
            f'Error message: "{self.failure_text}".'
        )
        self.deployment_status_message = json.dumps(
            {
                "status": "Failed",
                "error": {
                    "code": "ResourceDeploymentFailure",
                    "message": "The resource operation completed with terminal provisioning state 'Failed'.",
                    "details": [
                        {"code": "VMExtensionProvisioningError", "message": detail}
                    ],
                },
            }
        )
        self.vm_extension_status_message = json.dumps(
            [
                {
                    "code": "ComponentStatus/StdOut/succeeded",
                    "level": "Info",
                    "message": "",
                },
                {
                    "code": "ComponentStatus/StdErr/succeeded",
                    "level": "Info",
                    "message": self.failure_text,
                },
            ]
        )


@dataclass
class VirtualMachine:
    lab_key: str
    name: str
    location: str
    size: str
    os_type: str
    user_name: str
    storage_type: str
    allow_claim: bool
    disallow_public_ip_address: bool
    notes: str | None
    tags: dict[str, str]
    gallery_image: dict[str, str] | None
    custom_image_id: str | None
    artifacts: list[ArtifactRun]
    created: str
    created_by: str
    unique_id: str
    compute_resource_group: str
    os_disk_name: str
    operation_id: str
    provisioning_state: str = "Creating"
    phase: str = "provisioning"
    phase_ends_at: float | None = None
    artifact_index: int = 0
    power_state: str | None = None
    compute_created: bool = False
    failure: dict[str, str] | None = None
    delete_operation_id: str | None = None
    source_record: dict[str, Any] = field(default_factory=dict)

    @property
    def artifacts_applied(self) -> int:
        return sum(1 for artifact in self.artifacts if artifact.status == "Succeeded")

    def deployment_status(self) -> str:
        # NOTE: the specification types deploymentStatus as a free string; these
        # values are the emulator's choice.
        if not self.compute_created:
            return "NotStarted"
        if any(artifact.status == "Failed" for artifact in self.artifacts):
            return "Failed"
        if any(
            artifact.status in ("Pending", "Installing") for artifact in self.artifacts
        ):
            return "Running"
        return "Succeeded"

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> VirtualMachine:
        values = dict(data)
        values["artifacts"] = [ArtifactRun(**item) for item in values["artifacts"]]
        return cls(**values)


@dataclass
class CustomImage:
    lab_key: str
    name: str
    location: str
    description: str | None
    author: str
    tags: dict[str, str]
    vhd: dict[str, Any]
    created: str
    unique_id: str
    operation_id: str
    blob_name: str
    provisioning_state: str = "Creating"
    phase_ends_at: float | None = None
    fails: bool = False
    failure: dict[str, str] | None = None
    delete_operation_id: str | None = None

    @property
    def os_type(self) -> str:
        return str(self.vhd.get("osType", "Windows"))

    def to_state(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> CustomImage:
        return cls(**data)


def resolve_role_scope(
    labs: Iterable[Lab],
    *,
    lab: str | None = None,
    lab_storage: str | None = None,
    scope: str | None = None,
) -> str:
    """Return the scope of a role assignment given as a lab, a lab's storage or a resource id.

    Raises ValueError unless exactly one is given, or when it names an unknown lab.
    """
    if sum(value is not None for value in (lab, lab_storage, scope)) != 1:
        raise ValueError("give exactly one of 'lab', 'lab_storage' and 'scope'")
    if scope is not None:
        return scope
    name = str(lab if lab is not None else lab_storage)
    found = next((item for item in labs if item.name.lower() == name.lower()), None)
    if found is None:
        raise ValueError(f"role assignment names the unknown lab {name!r}")
    return found.id if lab is not None else found.storage_account_id


def find_upload_blob(labs: Iterable[Lab], url: str) -> tuple[Lab, str] | None:
    """Return the lab and blob name of a blob URL in a lab's upload container, else None.

    Only the path counts (``/<storage account>/uploads/<blob>``), so the
    caller checks the scheme and host. The query is ignored.
    """
    segments = urlsplit(url).path.lstrip("/").split("/", 2)
    if len(segments) != 3 or not segments[2] or segments[2].endswith("/"):
        return None
    account, container, blob = segments
    if unquote(container) != UPLOAD_CONTAINER:
        return None
    for lab in labs:
        if lab.storage_account_name == unquote(account).lower():
            return lab, unquote(blob)
    return None
