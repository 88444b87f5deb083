"""DevTest Labs and managed-disk operations the pipeline needs, over the Azure SDK.

Long-running operations start with ``polling=False`` and return at once: the
stage handlers check progress on later queue deliveries instead of holding a
function open (and the SDK's poller would start a thread per call). The one
exception is granting disk access, which ARM finishes within seconds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import (
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.config import LabRef
from shared.errors import AzureOperationError
from shared.storage import pooled_transport

logger = logging.getLogger(__name__)

ARM_SCOPE = "https://management.azure.com/.default"
PUBLIC_ARTIFACT_SOURCE = "public repo"
GENERALIZE_ARTIFACTS = {"Windows": "windows-sysprep", "Linux": "linux-deprovision"}
# Status codes for which a later attempt can succeed.
RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
DISK_SAS_SECONDS = 4 * 3600


@dataclass
class BuildVmState:
    """What the pipeline needs to know about a factory VM."""

    provisioning_state: str
    deallocated: bool
    artifacts_failed: list[str] = field(default_factory=list)
    os_disk_id: str = ""
    vm_id: str = ""


@dataclass(frozen=True)
class BuildVmSpec:
    """The lab VM to create for one build."""

    name: str
    os_type: str
    size: str
    storage_type: str
    gallery: dict[str, str] | None
    custom_image_id: str | None
    artifacts: list[tuple[str, dict[str, str]]]
    user_name: str
    password: str
    notes: str
    tags: dict[str, str]


@contextlib.contextmanager
def arm_call(action: str) -> Iterator[None]:
    """Turn SDK errors of ``action`` into AzureOperationError with the ARM code."""
    try:
        yield
    except HttpResponseError as exc:
        status = exc.status_code
        code = getattr(exc.error, "code", None) if exc.error else None
        detail = getattr(exc.error, "message", None) if exc.error else None
        message = f"{action} failed: {code or status}: {detail or exc.reason or exc}"
        raise AzureOperationError(
            message, code=code, status=status, retryable=status in RETRYABLE_STATUS
        ) from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise AzureOperationError(
            f"{action} failed: connection error: {exc}", retryable=True
        ) from exc


class LabClient:
    """DevTest Labs and Compute clients for the labs in one cloud."""

    def __init__(self, arm_endpoint: str, credential: Any) -> None:
        self._endpoint = arm_endpoint
        self._credential = credential
        self._dtl: dict[str, Any] = {}
        self._compute: dict[str, Any] = {}

    def dtl(self, subscription_id: str) -> Any:
        client = self._dtl.get(subscription_id)
        if client is None:
            from azure.mgmt.devtestlabs import DevTestLabsClient

            client = DevTestLabsClient(
                self._credential,
                subscription_id,
                base_url=self._endpoint,
                credential_scopes=[ARM_SCOPE],
                transport=pooled_transport(),
            )
            self._dtl[subscription_id] = client
        return client

    def compute(self, subscription_id: str) -> Any:
        client = self._compute.get(subscription_id)
        if client is None:
            from azure.mgmt.compute import ComputeManagementClient

            client = ComputeManagementClient(
                self._credential,
                subscription_id,
                base_url=self._endpoint,
                credential_scopes=[ARM_SCOPE],
                polling_interval=1,
                transport=pooled_transport(),
            )
            self._compute[subscription_id] = client
        return client

    # Factory VMs

    def create_build_vm(self, lab: LabRef, location: str, spec: BuildVmSpec) -> str:
        """Start creating the factory VM; return its resource id without waiting."""
        from azure.mgmt.devtestlabs import models

        artifacts = [
            models.ArtifactInstallProperties(
                artifact_id=self.artifact_id(lab, name),
                parameters=[
                    models.ArtifactParameterProperties(name=k, value=v)
                    for k, v in params.items()
                ],
            )
            for name, params in spec.artifacts
        ]
        gallery = (
            models.GalleryImageReference(os_type=spec.os_type, **spec.gallery)
            if spec.gallery
            else None
        )
        vm = models.LabVirtualMachine(
            location=location,
            tags=spec.tags,
            notes=spec.notes,
            size=spec.size,
            user_name=spec.user_name,
            password=spec.password,
            is_authentication_with_ssh_key=False,
            gallery_image_reference=gallery,
            custom_image_id=spec.custom_image_id,
            artifacts=artifacts,
            storage_type=spec.storage_type,
            allow_claim=False,
            disallow_public_ip_address=True,
        )
        with arm_call(f"creating factory VM {spec.name} in lab {lab.name}"):
            poller = self.dtl(
                lab.subscription_id
            ).virtual_machines.begin_create_or_update(
                lab.resource_group, lab.name, spec.name, vm, polling=False
            )
            created = poller.result()
        return str(
            getattr(created, "id", None) or f"{lab.id}/virtualmachines/{spec.name}"
        )

    def get_build_vm(self, lab: LabRef, name: str) -> BuildVmState | None:
        """Return the VM's build state, or None when it does not exist."""
        try:
            with arm_call(f"reading factory VM {name} in lab {lab.name}"):
                vm = self.dtl(lab.subscription_id).virtual_machines.get(
                    lab.resource_group,
                    lab.name,
                    name,
                    expand="properties($expand=artifacts,computeVm)",
                )
        except AzureOperationError as exc:
            if exc.status == 404:
                return None
            raise
        failed = [
            f"{_artifact_name(a.artifact_id)}: {a.deployment_status_message or 'failed'}"
            for a in vm.artifacts or []
            if (a.status or "").lower() == "failed"
        ]
        statuses = (
            [s.code or "" for s in (vm.compute_vm.statuses or [])]
            if vm.compute_vm
            else []
        )
        deallocated = "PowerState/deallocated" in statuses or (
            not statuses
            and (vm.last_known_power_state or "") in ("Stopped", "Deallocated")
        )
        return BuildVmState(
            provisioning_state=vm.provisioning_state or "",
            deallocated=deallocated,
            artifacts_failed=failed,
            os_disk_id=(vm.compute_vm.os_disk_id or "") if vm.compute_vm else "",
            vm_id=vm.id or "",
        )

    def delete_vm(self, lab: LabRef, name: str) -> None:
        """Start deleting a lab VM; a VM that is already gone counts as deleted."""
        try:
            with arm_call(f"deleting VM {name} in lab {lab.name}"):
                self.dtl(lab.subscription_id).virtual_machines.begin_delete(
                    lab.resource_group, lab.name, name, polling=False
                )
        except AzureOperationError as exc:
            if exc.status != 404:
                raise
            logger.info("VM %s in lab %s was already deleted", name, lab.name)

    def list_vms(self, lab: LabRef) -> list[Any]:
        with arm_call(f"listing VMs of lab {lab.name}"):
            return list(
                self.dtl(lab.subscription_id).virtual_machines.list(
                    lab.resource_group, lab.name
                )
            )

    def get_location(self, lab: LabRef) -> str:
        with arm_call(f"reading lab {lab.name}"):
            return str(
                self.dtl(lab.subscription_id)
                .labs.get(lab.resource_group, lab.name)
                .location
            )

    def artifact_id(self, lab: LabRef, name: str) -> str:
        return f"{lab.id}/artifactSources/{PUBLIC_ARTIFACT_SOURCE}/artifacts/{name}"

    def list_artifacts(self, lab: LabRef) -> dict[str, dict[str, Any]]:
        """Return the lab's public-repository artifacts as artifactfile-style dicts."""
        with arm_call(f"listing artifacts of lab {lab.name}"):
            artifacts = self.dtl(lab.subscription_id).artifacts.list(
                lab.resource_group, lab.name, PUBLIC_ARTIFACT_SOURCE
            )
            return {
                a.name: {
                    "targetOsType": a.target_os_type,
                    "parameters": a.parameters or {},
                }
                for a in artifacts
            }

    # Managed disks

    def grant_disk_read(self, disk_id: str) -> str:
        """Return a read SAS URL for a managed disk (waits for the short ARM operation)."""
        from azure.mgmt.compute.models import GrantAccessData

        sub, group, name = _disk_coordinates(disk_id)
        with arm_call(f"granting read access to disk {name}"):
            poller = self.compute(sub).disks.begin_grant_access(
                group,
                name,
                GrantAccessData(access="Read", duration_in_seconds=DISK_SAS_SECONDS),
            )
            return str(poller.result(timeout=600).access_sas)

    def revoke_disk_access(self, disk_id: str) -> None:
        sub, group, name = _disk_coordinates(disk_id)
        try:
            with arm_call(f"revoking access to disk {name}"):
                self.compute(sub).disks.begin_revoke_access(group, name).result(
                    timeout=600
                )
        except AzureOperationError as exc:
            if exc.status != 404:
                raise

    # Team labs

    def upload_uri(self, lab: LabRef, blob_name: str) -> str:
        """Return a write SAS URL into the lab's own storage for ``blob_name``."""
        with arm_call(f"getting an upload URI from lab {lab.name}"):
            result = self.dtl(lab.subscription_id).labs.generate_upload_uri(
                lab.resource_group, lab.name, blob_name=blob_name
            )
        return str(result.upload_uri)

    def create_custom_image(
        self,
        lab: LabRef,
        name: str,
        vhd_url: str,
        os_type: str,
        description: str,
        tags: dict[str, str],
    ) -> str:
        """Start creating a custom image from a VHD in the lab's storage; return its id."""
        from azure.mgmt.devtestlabs import models

        image = models.CustomImage(
            description=description,
            author="image-factory",
            tags=tags,
            vhd=models.CustomImagePropertiesCustom(
                image_name=vhd_url, sys_prep=os_type == "Windows", os_type=os_type
            ),
        )
        with arm_call(f"creating custom image {name} in lab {lab.name}"):
            poller = self.dtl(lab.subscription_id).custom_images.begin_create_or_update(
                lab.resource_group, lab.name, name, image, polling=False
            )
            created = poller.result()
        return str(getattr(created, "id", None) or f"{lab.id}/customimages/{name}")

    def get_custom_image(self, lab: LabRef, name: str) -> Any | None:
        try:
            with arm_call(f"reading custom image {name} in lab {lab.name}"):
                return self.dtl(lab.subscription_id).custom_images.get(
                    lab.resource_group, lab.name, name
                )
        except AzureOperationError as exc:
            if exc.status == 404:
                return None
            raise

    def list_custom_images(self, lab: LabRef) -> list[Any]:
        with arm_call(f"listing custom images of lab {lab.name}"):
            return list(
                self.dtl(lab.subscription_id).custom_images.list(
                    lab.resource_group, lab.name
                )
            )

    def delete_custom_image(self, lab: LabRef, name: str) -> None:
        try:
            with arm_call(f"deleting custom image {name} in lab {lab.name}"):
                self.dtl(lab.subscription_id).custom_images.begin_delete(
                    lab.resource_group, lab.name, name, polling=False
                )
        except AzureOperationError as exc:
            if exc.status != 404:
                raise


def _artifact_name(artifact_id: str | None) -> str:
    return (artifact_id or "").rstrip("/").rsplit("/", 1)[-1] or "artifact"


def _disk_coordinates(disk_id: str) -> tuple[str, str, str]:
    parts = disk_id.strip("/").split("/")
    if (
        len(parts) != 8
        or parts[0].lower() != "subscriptions"
        or parts[6].lower() != "disks"
    ):
        raise AzureOperationError(
            f"invalid managed disk id {disk_id!r}: expected /subscriptions/<id>/resourceGroups"
            "/<group>/providers/Microsoft.Compute/disks/<name>"
        )
    return parts[1], parts[3], parts[7]
