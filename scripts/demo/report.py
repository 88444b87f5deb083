"""Check a finished run against the configuration and the stored bytes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol

from scripts.demo.content import ContentDigest, ContentLookupError, split_blob_url


class ImageStoreReader(Protocol):
    container: str

    def digest(self, vhd_url: str) -> ContentDigest: ...


class CustomImageReader(Protocol):
    def custom_image_digest(self, resource_id: str) -> ContentDigest: ...


@dataclass(frozen=True)
class ExpectedState:
    """Images that the configuration defines and the (image, team lab) pairs it requests."""

    images: list[str]
    pairs: list[tuple[str, str]]


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class ImageRow:
    image: str
    version: str
    status: str
    build_seconds: float | None
    vhd_url: str
    vhd_sha256: str | None = None
    vhd_size: int | None = None
    error: str | None = None


@dataclass
class LabRow:
    lab: str
    image: str
    version: str
    status: str
    custom_image_name: str
    custom_image_id: str
    content_sha256: str | None = None
    content_size: int | None = None
    matches_image_store: bool | None = None
    error: str | None = None


@dataclass
class DemoReport:
    """Outcome of the demo run: run summary, per-image and per-lab rows, checks."""

    run: dict[str, Any]
    images: list[ImageRow] = field(default_factory=list)
    labs: list[LabRow] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [check for check in self.checks if not check.passed]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.failed_checks

    def reason(self) -> str | None:
        """Return why the demo failed, one failed check a line, or None if it passed."""
        if self.passed:
            return None
        if not self.checks:
            return "no check ran"
        return "\n".join(
            f"{check.name}: {check.detail}" for check in self.failed_checks
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason(),
            "elapsed_seconds": round(self.elapsed_seconds, 1),
            "run": self.run,
            "images": [asdict(row) for row in self.images],
            "labs": [asdict(row) for row in self.labs],
            "checks": [asdict(check) for check in self.checks],
        }


def build_report(
    body: dict[str, Any],
    expected: ExpectedState,
    image_store: ImageStoreReader,
    custom_images: CustomImageReader,
) -> DemoReport:
    """Compare the run in body (GET /api/runs/{id}) with expected and the stored bytes."""
    run = body["run"]
    tasks: list[dict[str, Any]] = body.get("tasks", [])
    builds = {task["image"]: task for task in tasks if task.get("kind") == "build"}
    copies = {
        (task["image"], task["lab"]): task
        for task in tasks
        if task.get("kind") == "copy"
    }
    report = DemoReport(run=run)

    status = run.get("status")
    detail = f"run status is {status}" + (
        f": {run['error']}" if run.get("error") else ""
    )
    report.checks.append(CheckResult("run succeeded", status == "succeeded", detail))

    for image in sorted(builds):
        report.images.append(_image_row(builds[image], image_store))
    report.checks.extend(_build_checks(expected, report.images))

    digests = {row.image: row for row in report.images}
    for image, lab in sorted(expected.pairs, key=lambda pair: (pair[1], pair[0])):
        row, check = _check_copy(
            image, lab, copies.get((image, lab)), digests, image_store, custom_images
        )
        if row is not None:
            report.labs.append(row)
        report.checks.append(check)

    for image, lab in sorted(set(copies) - set(expected.pairs)):
        report.checks.append(
            CheckResult(
                f"{image} in {lab}",
                False,
                "the run copied the image to a lab that does not subscribe to it",
            )
        )
    return report


def _image_row(task: dict[str, Any], image_store: ImageStoreReader) -> ImageRow:
    row = ImageRow(
        image=task["image"],
        version=task.get("version") or "",
        status=task.get("status") or "",
        build_seconds=seconds_between(task.get("started_at"), task.get("finished_at")),
        vhd_url=task.get("vhd_url") or "",
        error=task.get("error"),
    )
    if row.status == "succeeded":
        try:
            digest = image_store.digest(row.vhd_url)
        except ContentLookupError as exc:
            row.error = str(exc)
        else:
            row.vhd_sha256 = digest.sha256
            row.vhd_size = digest.size
    return row


def _build_checks(expected: ExpectedState, rows: list[ImageRow]) -> list[CheckResult]:
    """Check that every configured image was built and its VHD is readable."""
    by_image = {row.image: row for row in rows}
    checks = []
    for image in sorted(expected.images):
        name = f"build {image}"
        row = by_image.get(image)
        if row is None:
            checks.append(
                CheckResult(name, False, "the run has no build task for the image")
            )
        elif row.status != "succeeded":
            checks.append(CheckResult(name, False, f"build {row.status}: {row.error}"))
        elif row.vhd_sha256 is None:
            checks.append(CheckResult(name, False, row.error or "the VHD was not read"))
        else:
            detail = f"version {row.version}, VHD {row.vhd_size} bytes"
            checks.append(CheckResult(name, True, detail))
    return checks


def _check_copy(
    image: str,
    lab: str,
    task: dict[str, Any] | None,
    builds: dict[str, ImageRow],
    image_store: ImageStoreReader,
    custom_images: CustomImageReader,
) -> tuple[LabRow | None, CheckResult]:
    """Compare the custom image of one (image, lab) pair with its VHD in the image store."""
    name = f"{image} in {lab}"
    if task is None:
        return None, CheckResult(name, False, "the run has no copy task for this pair")

    row = LabRow(
        lab=lab,
        image=image,
        version=task.get("version") or "",
        status=task.get("status") or "",
        custom_image_name=task.get("custom_image_name") or "",
        custom_image_id=task.get("custom_image_id") or "",
        error=task.get("error"),
    )
    if row.status != "succeeded":
        return row, CheckResult(name, False, f"copy {row.status}: {row.error}")
    if not row.custom_image_id:
        return row, CheckResult(name, False, "the copy task records no custom image id")

    try:
        source = _source_digest(row, task, builds, image_store)
        copy = custom_images.custom_image_digest(row.custom_image_id)
    except ContentLookupError as exc:
        row.error = str(exc)
        return row, CheckResult(name, False, str(exc))

    row.content_sha256 = copy.sha256
    row.content_size = copy.size
    row.matches_image_store = copy == source
    if not row.matches_image_store:
        detail = (
            f"custom image {row.custom_image_name} has sha256 {copy.sha256} "
            f"({copy.size} bytes), but the image store VHD of version {row.version} "
            f"has sha256 {source.sha256} ({source.size} bytes)"
        )
        return row, CheckResult(name, False, detail)

    detail = f"custom image {row.custom_image_name} matches the VHD (sha256 {copy.sha256[:12]})"
    return row, CheckResult(name, True, detail)


def _source_digest(
    row: LabRow,
    task: dict[str, Any],
    builds: dict[str, ImageRow],
    image_store: ImageStoreReader,
) -> ContentDigest:
    """Return the digest of the image store VHD of the version the copy task used."""
    build = builds.get(row.image)
    if build is not None and build.version == row.version and build.vhd_sha256:
        assert build.vhd_size is not None
        return ContentDigest(build.vhd_sha256, build.vhd_size)

    # The run reused a version that an earlier run built.
    vhd_url = task.get("vhd_url") or ""
    if not vhd_url:
        raise ContentLookupError(
            f"neither a build of version {row.version} nor the copy task names its VHD"
        )
    container, _ = split_blob_url(vhd_url)
    if container != image_store.container:
        raise ContentLookupError(
            f"the copy task's VHD {vhd_url} is not in the image store"
        )
    return image_store.digest(vhd_url)


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Return the seconds from one ISO 8601 time to another, or None if one is missing."""
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
