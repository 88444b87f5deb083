"""Read what the factory created in the labs, as input for the retention rules."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from shared.config import FactoryConfig, parse_resource_id
from shared.context import Factory
from shared.errors import AzureOperationError, RunNotFoundError
from shared.labstorage import container_url_of
from shared.lifecycle.retention import (
    IMAGE_TAG,
    TIMEOUT_TAG,
    VERSION_TAG,
    FactoryVm,
    LabImage,
    LabUpload,
    is_factory_resource,
)
from shared.models import RunStatus

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


# generateUploadUri needs a blob name; the sweep only uses the container part.
_PROBE_BLOB = "imagefactory-sweep.vhd"


def factory_uploads(
    factory: Factory, lab_id: str, current_run_id: str
) -> list[LabUpload]:
    """Return the VHDs the factory uploaded into a lab's storage, each with whether its run ended.

    The calling run counts as ended, because it lists uploads only after all
    its copies finished; see :func:`upload_run_ended` for the others. A lab whose storage the app cannot list is logged
    and left out, so that a missing data role does not fail the run.
    """
    lab = parse_resource_id(lab_id)
    try:
        container = container_url_of(factory.labs.upload_uri(lab, _PROBE_BLOB))
        blobs = factory.uploads.list_factory_uploads(container)
    except AzureOperationError as exc:
        logger.error(
            "listing the upload VHDs of lab %s failed; they stay until a later run: %s",
            lab.name,
            exc,
        )
        return []
    ended: dict[str, bool] = {}
    uploads = []
    for blob in blobs:
        if blob.run_id not in ended:
            ended[blob.run_id] = upload_run_ended(factory, blob.run_id, current_run_id)
        uploads.append(LabUpload(lab_id, blob.url, blob.run_id, ended[blob.run_id]))
    return uploads


def upload_run_ended(factory: Factory, run_id: str, current_run_id: str) -> bool:
    """Return whether the run that wrote an upload has ended, so the upload is left over.

    An upload without a run id, or with one this factory has no record of,
    counts as not ended: another deployment sharing the lab may have
    written it, and it is left alone.
    """
    if not run_id:
        return False
    if run_id == current_run_id:
        return True
    try:
        return RunStatus(factory.store.get_run(run_id).status).is_final
    except RunNotFoundError:
        return False


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None
