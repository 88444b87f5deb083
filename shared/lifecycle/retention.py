"""Decide what to retire: old and expired versions, unsubscribed images, orphaned VMs and uploads.

Pure functions over the configuration and what the labs and the image store
hold, so the same rules serve a run's retirement phase and
``imagefactory plan``. Only resources the factory tagged as its own are ever
candidates; whether a custom image is still used by a lab VM is checked when
the retirement runs, not here, because VMs come and go in between.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.config import FactoryConfig
from shared.models import ImageVersion, RetireTarget

# Tags the factory puts on everything it creates.
FACTORY_TAG = "created-by"
FACTORY_TAG_VALUE = "image-factory"
IMAGE_TAG = "factory-image"
VERSION_TAG = "factory-version"
TIMEOUT_TAG = "factory-timeout-minutes"
# A factory VM older than its build timeout plus this margin is an orphan.
DEFAULT_ORPHAN_MARGIN = timedelta(minutes=30)


@dataclass(frozen=True)
class LabImage:
    """A custom image in a team lab that the factory created (tagged as its own)."""

    lab_id: str
    name: str
    image: str
    version: str
    created: datetime | None = None


@dataclass(frozen=True)
class FactoryVm:
    """A VM in the factory lab that the factory created."""

    name: str
    created: datetime | None
    timeout_minutes: int | None
    deleting: bool = False


@dataclass(frozen=True)
class LabUpload:
    """A VHD the factory uploaded into a team lab's storage, and whether its run has ended."""

    lab_id: str
    url: str
    run_id: str
    run_ended: bool


@dataclass(frozen=True)
class Retirement:
    """One thing to delete, and why."""

    target: RetireTarget
    lab_id: str
    image: str
    version: str
    name: str
    reason: str

    @property
    def task_id(self) -> str:
        if self.target in (RetireTarget.CUSTOM_IMAGE, RetireTarget.UPLOAD):
            return f"retire|{self.target}|{self.lab_id.lower()}|{self.name}"
        return f"retire|{self.target}|{self.name}"


def is_factory_resource(tags: dict[str, str] | None) -> bool:
    return bool(tags) and (tags or {}).get(FACTORY_TAG) == FACTORY_TAG_VALUE


def plan_retirements(
    config: FactoryConfig,
    lab_images: Iterable[LabImage],
    versions: Iterable[ImageVersion],
    now: datetime,
    factory_vms: Iterable[FactoryVm] = (),
    orphan_margin: timedelta = DEFAULT_ORPHAN_MARGIN,
    current_hashes: Mapping[str, str] | None = None,
    uploads: Iterable[LabUpload] = (),
) -> list[Retirement]:
    """Return every retirement the configuration's policies call for, now.

    ``current_hashes`` maps image names to the content hash of their current
    definition, resolved against the parent's newest version for layered
    images (see :func:`current_content_hashes`); without it, the unresolved
    hash of each definition is used.
    """
    retirements = _lab_retirements(config, lab_images, now)
    retirements += _store_retirements(config, versions, now, current_hashes)
    retirements += _orphan_vms(config, factory_vms, now, orphan_margin)
    retirements += _leftover_uploads(uploads)
    return retirements


def _lab_retirements(
    config: FactoryConfig, lab_images: Iterable[LabImage], now: datetime
) -> list[Retirement]:
    labs = {lab.lab_id.lower(): lab for lab in config.labs}
    grouped: dict[tuple[str, str], list[LabImage]] = defaultdict(list)
    for lab_image in lab_images:
        grouped[(lab_image.lab_id.lower(), lab_image.image)].append(lab_image)

    retirements = []
    for (lab_key, image_name), held in sorted(grouped.items()):
        held.sort(key=lambda h: h.version, reverse=True)
        lab = labs.get(lab_key)
        image = config.images.get(image_name)
        if lab is None and lab_key == config.factory_lab_id.lower():
            keep, reason = _factory_lab_policy(config, image_name)
        elif lab is None:
            reason, keep = "the lab was removed from labs.yaml", 0
        elif image is None:
            reason, keep = f"{image_name} was removed from the configuration", 0
        elif not lab.matches(image_name):
            reason, keep = f"lab {lab.name} no longer subscribes to {image_name}", 0
        else:
            keep = config.versions_to_keep_in(lab, image)
            reason = f"older than the newest {keep} versions kept in lab {lab.name}"
        if lab is not None and lab_key == config.factory_lab_id.lower():
            # A team lab that is also the factory lab keeps the bases of layered builds too.
            base_keep, base_reason = _factory_lab_policy(config, image_name)
            if base_keep > keep:
                keep, reason = base_keep, f"{reason}, and {base_reason}"
        for index, version in enumerate(held):
            expired = _expired(config, image_name, version.created, now)
            if index < keep and not expired:
                continue
            retirements.append(
                Retirement(
                    RetireTarget.CUSTOM_IMAGE,
                    version.lab_id,
                    image_name,
                    version.version,
                    version.name,
                    expired if expired and index < keep else reason,
                )
            )
    return retirements


def _factory_lab_policy(config: FactoryConfig, image_name: str) -> tuple[int, str]:
    """Return how many versions the factory lab keeps of an image, and why the rest go.

    The factory lab holds custom images only as bases of layered builds.
    """
    image = config.images.get(image_name)
    is_base = any(other.parent == image_name for other in config.images.values())
    if image is None or not is_base:
        return 0, f"{image_name} is no longer the base of another image"
    keep = image.versions_to_keep
    return (
        keep,
        f"older than the newest {keep} versions kept in the factory lab as bases",
    )


def _store_retirements(
    config: FactoryConfig,
    versions: Iterable[ImageVersion],
    now: datetime,
    current_hashes: Mapping[str, str] | None,
) -> list[Retirement]:
    grouped: dict[str, list[ImageVersion]] = defaultdict(list)
    for version in versions:
        if version.state == "available":
            grouped[version.image].append(version)

    retirements = []
    for image_name, available in sorted(grouped.items()):
        available.sort(key=lambda v: v.version, reverse=True)
        image = config.images.get(image_name)
        current_hash = image.content_hash() if image else None
        if current_hashes is not None:
            current_hash = current_hashes.get(image_name, current_hash)
        keep = image.versions_to_keep if image else 0
        for index, version in enumerate(available):
            expired = _expired(config, image_name, version.created_at, now)
            # The version of the current definition is what a newly subscribed
            # lab receives, so the store keeps it while it is not expired.
            current = (
                version.content_hash == current_hash
                and index == _first_with_hash(available, current_hash)
            )
            if (index < keep or current) and not expired:
                continue
            if image is None:
                reason = f"{image_name} was removed from the configuration"
            elif expired:
                reason = expired
            else:
                reason = (
                    f"older than the newest {keep} versions kept in the image store"
                )
            retirements.append(
                Retirement(
                    RetireTarget.VHD,
                    "",
                    image_name,
                    version.version,
                    version.vhd_url,
                    reason,
                )
            )
    return retirements


def _first_with_hash(versions: list[ImageVersion], content_hash: str | None) -> int:
    for index, version in enumerate(versions):
        if version.content_hash == content_hash:
            return index
    return -1


def _orphan_vms(
    config: FactoryConfig, vms: Iterable[FactoryVm], now: datetime, margin: timedelta
) -> list[Retirement]:
    default_timeout = max(
        (image.build_timeout_minutes for image in config.images.values()), default=120
    )
    retirements = []
    for vm in vms:
        if vm.deleting or vm.created is None:
            continue
        minutes = default_timeout if vm.timeout_minutes is None else vm.timeout_minutes
        timeout = timedelta(minutes=minutes)
        if now - vm.created > timeout + margin:
            limit = int((timeout + margin).total_seconds() // 60)
            retirements.append(
                Retirement(
                    RetireTarget.VM,
                    config.factory_lab_id,
                    "",
                    "",
                    vm.name,
                    f"orphaned factory VM, older than its build timeout plus margin ({limit} minutes)",
                )
            )
    return retirements


def _leftover_uploads(uploads: Iterable[LabUpload]) -> list[Retirement]:
    """Retire each uploaded VHD whose run has ended, because a copy deletes its upload when it ends."""
    return [
        Retirement(
            RetireTarget.UPLOAD,
            upload.lab_id,
            "",
            "",
            upload.url,
            f"upload VHD {upload.url.rsplit('/', 1)[-1]} left by run "
            f"{upload.run_id or '(unknown)'}, which has ended",
        )
        for upload in uploads
        if upload.run_ended
    ]


def _expired(
    config: FactoryConfig, image_name: str, created: datetime | None, now: datetime
) -> str:
    """Return the reason a version is past its image's maximum lifetime, or ''."""
    image = config.images.get(image_name)
    lifetime_days = getattr(image, "max_lifetime_days", None) if image else None
    if not lifetime_days or created is None:
        return ""
    if now - created > timedelta(days=lifetime_days):
        return f"past its maximum lifetime of {lifetime_days} days"
    return ""


def current_content_hashes(
    config: FactoryConfig, find_version: Callable[[str, str], ImageVersion | None]
) -> dict[str, str]:
    """Return each image's current content hash, layered images resolved to their parent."""
    from shared.models import Run
    from shared.planner import plan_images

    neutral = Run(run_id="retention", trigger="expiry", ref="")
    return {
        name: plan.content_hash
        for name, plan in plan_images(config, neutral, find_version).items()
    }
