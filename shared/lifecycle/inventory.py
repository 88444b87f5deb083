"""Read what the factory created in the labs, as input for the retention rules."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.config import FactoryConfig, parse_resource_id
from shared.context import Factory
from shared.lifecycle.retention import (
    IMAGE_TAG,
    TIMEOUT_TAG,
    VERSION_TAG,
    FactoryVm,
    LabImage,
    is_factory_resource,
)

logger = logging.getLogger(__name__)


def team_lab_ids(factory: Factory, config: FactoryConfig) -> list[str]:
    """Labs in the configuration, the factory lab, and labs the factory placed images in before.

    A lab removed from labs.yaml still holds the factory's images, which
    reconciliation removes. The factory lab holds the bases of layered builds.
    """
    ids = {lab.lab_id.lower(): lab.lab_id for lab in config.labs}
    ids.setdefault(config.factory_lab_id.lower(), config.factory_lab_id)
    for row in factory.store.list_lab_images():
        lab_id = str(row.get("lab_id") or "")
        if lab_id:
            ids.setdefault(lab_id.lower(), lab_id)
    return sorted(ids.values())


def factory_lab_images(factory: Factory, lab_id: str) -> list[LabImage]:
    """The custom images in a lab that carry the factory's tag; hand-made ones are left out."""
    lab = parse_resource_id(lab_id)
    images = []
    for image in factory.labs.list_custom_images(lab):
        tags = image.tags or {}
        if (
            not is_factory_resource(tags)
            or IMAGE_TAG not in tags
            or VERSION_TAG not in tags
        ):
            continue
        images.append(
            LabImage(
                lab_id=lab_id,
                name=image.name,
                image=tags[IMAGE_TAG],
                version=tags[VERSION_TAG],
                created=_as_datetime(getattr(image, "creation_date", None)),
            )
        )
    return images


def factory_vms(factory: Factory, factory_lab_id: str) -> list[FactoryVm]:
    """The VMs in the factory lab that carry the factory's tag."""
    lab = parse_resource_id(factory_lab_id)
    vms = []
    for vm in factory.labs.list_vms(lab):
        tags = vm.tags or {}
        if not is_factory_resource(tags):
            continue
        timeout = tags.get(TIMEOUT_TAG, "")
        vms.append(
            FactoryVm(
                name=vm.name,
                created=_as_datetime(vm.created_date),
                timeout_minutes=int(timeout) if timeout.isdigit() else None,
                deleting=(vm.provisioning_state or "") == "Deleting",
            )
        )
    return vms


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
