"""Custom image operations: CustomImages_CreateOrUpdate, _Get, _List, _Delete.

A custom image is created from a VHD in the lab's upload container, named
by its URL on the lab's blob data plane as generateUploadUri returns it
(``https://HOST:PORT/<storage account>/uploads/<blob>``). The emulator copies the VHD's bytes at once into the lab's internal image
container (the "managed image"), so the uploaded VHD may be deleted
afterwards. The image becomes Succeeded after a scaled duration, or Failed
when the VHD is not a fixed VHD or a fault rule fails it.

Not emulated: custom images from a lab VM (``properties.vm``), from a
managed image or snapshot, data disk images, plans, and updates beyond
tags and description.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from emulator import errors, vhd
from emulator.blobs import StorageError
from emulator.devtestlab.base import BackendBase
from emulator.devtestlab.models import (
    UPLOAD_CONTAINER,
    CustomImage,
    Lab,
    find_upload_blob,
)
from emulator.devtestlab.validation import (
    check_location,
    check_os_type,
    check_resource_name,
)
from emulator.operations import Operation
from emulator.wire import Principal

logger = logging.getLogger(__name__)

BUSY_STATES = ("Creating", "Deleting")
DEFAULT_FAILURE_TEXT = "The custom image could not be created from the VHD."


def image_key(lab: Lab, name: str) -> str:
    return f"{lab.key}/customimages/{name.lower()}"


class CustomImagesMixin(BackendBase):
    def get_custom_image(self, lab: Lab, name: str) -> CustomImage:
        image = self.ctx.state.images.get(image_key(lab, name))
        if image is None:
            raise errors.resource_not_found(
                "Microsoft.DevTestLab/labs/customimages",
                f"{lab.name}/{name}",
                lab.resource_group,
            )
        return image

    def list_custom_images(self, lab: Lab) -> list[CustomImage]:
        images = [
            image
            for image in self.ctx.state.images.values()
            if image.lab_key == lab.key
        ]
        return sorted(images, key=lambda image: image.name.lower())

    def create_or_update_custom_image(
        self,
        lab: Lab,
        name: str,
        body: dict[str, Any],
        principal: Principal,
        base_url: str,
    ) -> tuple[CustomImage, bool]:
        """Create a custom image from a VHD, or update a finished image's tags and description.

        ``base_url`` is the emulator's URL as the client addressed it, which
        the VHD's URL must start with.
        """
        existing = self.ctx.state.images.get(image_key(lab, name))
        if existing is not None:
            return self._update_image(existing, body), False

        check_resource_name(name, "custom image")
        check_location(body.get("location"), lab)
        properties = body.get("properties") or {}
        vhd_properties = properties.get("vhd") if isinstance(properties, dict) else None
        if not isinstance(vhd_properties, dict):
            raise errors.InvalidParameter(
                "properties.vhd is required: the emulator creates custom images from VHDs only.",
                target="properties.vhd",
            )

        os_type = check_os_type(vhd_properties.get("osType"), "properties.vhd.osType")
        url = self._vhd_url(vhd_properties.get("imageName"))
        source = self._source_blob(lab, url, base_url)
        problem = self._vhd_problem(source, url)

        unique_id = str(uuid.uuid4())
        blob_name = f"{name}-{unique_id[:8]}.vhd"
        self.ctx.blobs.copy(source, (lab.image_container, blob_name))
        image = self._new_image(lab, name, body, properties, principal, unique_id)
        image.vhd = {
            "imageName": url,
            "sysPrep": bool(vhd_properties.get("sysPrep", False)),
            "osType": os_type,
        }

        fault = self.ctx.faults.for_resource("custom_image_failure", name)
        image.fails = fault is not None or problem is not None
        if image.fails:
            text = fault.message if fault and fault.message else DEFAULT_FAILURE_TEXT
            image.failure = {
                "code": "CustomImageCreationFailed",
                "message": problem or text,
            }

        stalled = self.ctx.faults.for_resource("stall", name) is not None
        now = self.ctx.clock.now()
        image.phase_ends_at = (
            None if stalled else now + self.ctx.timings.sample("custom_image_create")
        )
        self.ctx.state.images[image_key(lab, name)] = image
        self.ctx.state.mark_dirty()
        return image, True

    def delete_custom_image(self, lab: Lab, name: str) -> Operation | None:
        """Start deleting a custom image and return the operation, or None when there is none."""
        image = self.ctx.state.images.get(image_key(lab, name))
        if image is None:
            return None
        if image.provisioning_state == "Deleting" and image.delete_operation_id:
            return self.ctx.state.operations[image.delete_operation_id]

        now = self.ctx.clock.now()
        if image.provisioning_state == "Creating":
            self.finish_operation(image.operation_id, now, "Canceled")
        operation = self.new_operation(lab, "custom_image_delete", image_key(lab, name))
        image.provisioning_state = "Deleting"
        image.phase_ends_at = now + self.ctx.timings.sample("custom_image_delete")
        image.delete_operation_id = operation.id
        self.ctx.state.mark_dirty()
        return operation

    def advance_images(self, now: float) -> None:
        for key, image in list(self.ctx.state.images.items()):
            if image.phase_ends_at is None or image.phase_ends_at > now:
                continue
            try:
                self._step_image(key, image, image.phase_ends_at)
            except StorageError as exc:
                self.report_storage_error(key, exc)
            else:
                self.clear_storage_error(key)

    def _step_image(self, key: str, image: CustomImage, at: float) -> None:
        lab = self.ctx.state.labs[image.lab_key]
        if image.provisioning_state == "Deleting":
            self.ctx.blobs.delete(lab.image_container, image.blob_name)
            del self.ctx.state.images[key]
            self.finish_operation(image.delete_operation_id, at, "Succeeded")
            logger.info("custom image %s in lab %s: deleted", image.name, lab.name)
        elif image.fails:
            self.ctx.blobs.delete(lab.image_container, image.blob_name)
            image.provisioning_state = "Failed"
            image.phase_ends_at = None
            self.finish_operation(image.operation_id, at, "Failed", image.failure)
            logger.info("custom image %s in lab %s: failed", image.name, lab.name)
        else:
            image.provisioning_state = "Succeeded"
            image.phase_ends_at = None
            self.finish_operation(image.operation_id, at, "Succeeded")
            logger.info("custom image %s in lab %s: succeeded", image.name, lab.name)
        self.ctx.state.mark_dirty()

    def _update_image(self, image: CustomImage, body: dict[str, Any]) -> CustomImage:
        if image.provisioning_state in BUSY_STATES:
            raise errors.Conflict(
                f"The resource '{image.name}' is not in a valid state "
                f"'{image.provisioning_state}' for operation 'PUT'. Wait until the "
                "operation in progress finishes."
            )
        properties = body.get("properties") or {}
        if isinstance(body.get("tags"), dict):
            image.tags = {str(key): str(value) for key, value in body["tags"].items()}
        if isinstance(properties, dict) and "description" in properties:
            image.description = properties["description"]
        self.ctx.state.mark_dirty()
        return image

    @staticmethod
    def _vhd_url(image_name: Any) -> str:
        if not isinstance(image_name, str) or not image_name:
            raise errors.InvalidParameter(
                "properties.vhd.imageName (the URL of the VHD blob) is required.",
                target="properties.vhd.imageName",
            )
        parts = urlsplit(image_name)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def _source_blob(self, lab: Lab, url: str, base_url: str) -> tuple[str, str]:
        """Return the Azurite container and blob of a VHD URL in the lab's upload container."""
        found = find_upload_blob([lab], url)
        parts, base = urlsplit(url), urlsplit(base_url)
        same_host = (parts.scheme, parts.netloc.lower()) == (
            base.scheme,
            base.netloc.lower(),
        )
        if found is None or not same_host:
            expected = f"{base_url}/{lab.storage_account_name}/{UPLOAD_CONTAINER}/"
            raise errors.InvalidStorageAccountForLab(
                f"Invalid storage account for lab. The VHD '{url}' must be in the upload "
                f"container of lab '{lab.name}' ({expected}), as generateUploadUri "
                "returns it."
            )
        location = (lab.upload_container, found[1])
        if self.ctx.blobs.properties(*location) is None:
            raise errors.InvalidParameter(
                f"The VHD blob '{url}' does not exist. Upload it before creating the image.",
                target="properties.vhd.imageName",
            )
        return location

    def _vhd_problem(self, source: tuple[str, str], url: str) -> str | None:
        """Return why the blob cannot become an image, or None for a fixed VHD page blob."""
        properties = self.ctx.blobs.properties(*source)
        if properties is None or properties.blob_type != "PageBlob":
            return f"The blob '{url}' is not a page blob. Azure creates images from page blobs only."
        size = properties.size
        if size < 2 * vhd.SECTOR_BYTES or size % vhd.SECTOR_BYTES:
            return f"The blob '{url}' is not a fixed VHD: its size {size} is not a multiple of 512."
        try:
            vhd.parse_footer(
                self.ctx.blobs.read(*source, size - vhd.SECTOR_BYTES, vhd.SECTOR_BYTES)
            )
        except vhd.InvalidVhdError as exc:
            return f"The blob '{url}' is not a fixed VHD: {exc}."
        return None

    def _new_image(
        self,
        lab: Lab,
        name: str,
        body: dict[str, Any],
        properties: dict[str, Any],
        principal: Principal,
        unique_id: str,
    ) -> CustomImage:
        operation = self.new_operation(lab, "custom_image_create", image_key(lab, name))
        tags = body.get("tags") if isinstance(body.get("tags"), dict) else {}
        return CustomImage(
            lab_key=lab.key,
            name=name,
            location=lab.location,
            description=properties.get("description"),
            author=str(properties.get("author") or principal.name),
            tags={str(key): str(value) for key, value in (tags or {}).items()},
            vhd={},
            created=self.ctx.wall_iso(self.ctx.clock.now()),
            unique_id=unique_id,
            operation_id=operation.id,
            blob_name=f"{name}-{unique_id[:8]}.vhd",
        )
