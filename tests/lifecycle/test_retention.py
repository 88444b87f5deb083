"""Retention rules over the example configuration, with lab contents made up per test."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.config import FactoryConfig, load_config_dir
from shared.labstorage import container_url_of
from shared.lifecycle.retention import FactoryVm, LabImage, LabUpload, plan_retirements
from shared.models import ImageVersion, RetireTarget

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config() -> FactoryConfig:
    return load_config_dir(ROOT / "examples" / "config-repo")


def lab_id(config: FactoryConfig, name: str) -> str:
    return next(lab.lab_id for lab in config.labs if lab.name == name)


def held(config: FactoryConfig, lab: str, image: str, *versions: str) -> list[LabImage]:
    return [
        LabImage(lab_id(config, lab), f"{image.replace('/', '-')}-{v}", image, v, NOW)
        for v in versions
    ]


def custom_image_retirements(
    config: FactoryConfig, images: list[LabImage]
) -> list[str]:
    result = plan_retirements(config, images, [], NOW)
    return sorted(r.version for r in result if r.target == RetireTarget.CUSTOM_IMAGE)


def test_retention_keeps_newest_versions_per_lab(config: FactoryConfig) -> None:
    # team-qa keeps 1 version, team-data keeps 3 (lab overrides).
    qa = held(config, "team-qa", "linux/ubuntu-docker", "20261201.1", "20261202.1")
    data = held(config, "team-data", "linux/ubuntu-docker", "1", "2", "3", "4")
    assert custom_image_retirements(config, qa) == ["20261201.1"]
    assert custom_image_retirements(config, data) == ["1"]


def test_retention_removes_unsubscribed_image(config: FactoryConfig) -> None:
    # team-data excludes linux/ubuntu-node.
    images = held(config, "team-data", "linux/ubuntu-node", "20261202.1")
    result = plan_retirements(config, images, [], NOW)
    assert len(result) == 1
    assert "no longer subscribes" in result[0].reason


def test_retention_removes_images_of_dropped_lab(config: FactoryConfig) -> None:
    gone = "/subscriptions/6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40/resourceGroups/rg-imagefactory/providers/Microsoft.DevTestLab/labs/dtl-gone"
    images = [LabImage(gone, "linux-ubuntu-docker-1", "linux/ubuntu-docker", "1", NOW)]
    result = plan_retirements(config, images, [], NOW)
    assert [r.reason for r in result] == ["the lab was removed from labs.yaml"]


def test_retention_removes_image_dropped_from_config(config: FactoryConfig) -> None:
    images = held(config, "team-web", "linux/retired-image", "1")
    result = plan_retirements(config, images, [], NOW)
    assert "removed from the configuration" in result[0].reason


def version(
    config: FactoryConfig, image: str, label: str, current: bool
) -> ImageVersion:
    definition = config.images.get(image)
    content_hash = (
        definition.content_hash() if definition and current else f"old-{label}"
    )
    return ImageVersion(
        image=image,
        version=label,
        content_hash=content_hash,
        os_type="Linux",
        vhd_url=f"http://127.0.0.1/images/{image}/{label}.vhd",
        commit="c" * 40,
        run_id="r",
        custom_image_name="x",
        created_at=NOW - timedelta(days=1),
    )


def test_store_keeps_newest_and_current_version(config: FactoryConfig) -> None:
    image = "linux/ubuntu-docker"
    keep = config.images[image].versions_to_keep
    labels = [f"2026120{i}.000000" for i in range(1, keep + 3)]
    # The oldest version has the current definition's hash: a lab that
    # subscribes later gets that one, so it stays.
    versions = [version(config, image, labels[0], current=True)]
    versions += [version(config, image, label, current=False) for label in labels[1:]]
    retired = {
        r.version
        for r in plan_retirements(config, [], versions, NOW)
        if r.target == RetireTarget.VHD
    }
    assert labels[0] not in retired
    assert retired == set(labels[1 : len(labels) - keep])


def test_store_retires_every_version_of_removed_image(config: FactoryConfig) -> None:
    versions = [
        version(config, "linux/gone", "1", False),
        version(config, "linux/gone", "2", False),
    ]
    result = plan_retirements(config, [], versions, NOW)
    assert sorted(r.version for r in result) == ["1", "2"]


def test_orphan_vm_older_than_timeout_plus_margin(config: FactoryConfig) -> None:
    vms = [
        FactoryVm("ifbold", NOW - timedelta(minutes=200), 120),
        FactoryVm("ifbyoung", NOW - timedelta(minutes=100), 120),
        FactoryVm("ifbgoing", NOW - timedelta(minutes=500), 120, deleting=True),
        FactoryVm("ifbzero", NOW - timedelta(minutes=31), 0),
    ]
    result = plan_retirements(config, [], [], NOW, vms)
    assert [r.name for r in result] == ["ifbold", "ifbzero"]
    assert result[0].target == RetireTarget.VM


def test_retirement_task_ids_are_distinct(config: FactoryConfig) -> None:
    images = held(config, "team-qa", "linux/ubuntu-docker", "1", "2", "3")
    images += held(config, "team-data", "linux/ubuntu-node", "1")
    result = plan_retirements(config, images, [], NOW)
    assert len({r.task_id for r in result}) == len(result)


def test_factory_lab_keeps_only_bases(config: FactoryConfig) -> None:
    # No image of the example is layered, so nothing in the factory lab is a base.
    base = LabImage(
        config.factory_lab_id, "linux-ubuntu-docker-1", "linux/ubuntu-docker", "1", NOW
    )
    result = plan_retirements(config, [base], [], NOW)
    assert [r.reason for r in result] == [
        "linux/ubuntu-docker is no longer the base of another image"
    ]


def test_uploads_of_ended_runs_are_retired(config: FactoryConfig) -> None:
    lab = lab_id(config, "team-qa")
    container = "https://aqa1234.blob.core.windows.net/uploads"
    uploads = [
        LabUpload(lab, f"{container}/linux-ubuntu-docker-1.vhd", "run-a", True),
        LabUpload(lab, f"{container}/linux-ubuntu-docker-2.vhd", "run-b", False),
    ]
    result = plan_retirements(config, [], [], NOW, uploads=uploads)
    assert [(r.target, r.name) for r in result] == [
        (RetireTarget.UPLOAD, f"{container}/linux-ubuntu-docker-1.vhd")
    ]
    assert "linux-ubuntu-docker-1.vhd left by run run-a" in result[0].reason
    assert result[0].task_id.startswith(f"retire|upload|{lab.lower()}|https://")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://acct.blob.core.windows.net/uploads/a.vhd?sv=1&sig=x",
            "https://acct.blob.core.windows.net/uploads",
        ),
        (
            "https://127.0.0.1:8443/acct/uploads/a.vhd?sig=x",
            "https://127.0.0.1:8443/acct/uploads",
        ),
    ],
)
def test_container_url_of_upload_uri(url: str, expected: str) -> None:
    assert container_url_of(url) == expected


def test_team_lab_as_factory_lab_keeps_bases(tmp_path: Path) -> None:
    # team-qa is the factory lab too, and receives only windows/ images here.
    shutil.copytree(ROOT / "examples" / "config-repo", tmp_path, dirs_exist_ok=True)
    labs = tmp_path / "labs.yaml"
    factory = tmp_path / "factory.yaml"
    data = tmp_path / "images" / "linux" / "ubuntu-data.yaml"
    labs.write_text(
        labs.read_text().replace(
            'images: ["windows/", "linux/ubuntu-docker"]', 'images: ["windows/"]'
        )
    )
    factory.write_text(factory.read_text().replace("dtl-image-factory", "dtl-team-qa"))
    gallery = data.read_text().split("base:\n", 1)[1].split("vm_size:", 1)[0]
    data.write_text(data.read_text().replace(gallery, "  image: linux/ubuntu-docker\n"))
    config = load_config_dir(tmp_path)
    qa_lab = lab_id(config, "team-qa")
    base = LabImage(qa_lab, "linux-ubuntu-docker-1", "linux/ubuntu-docker", "1", NOW)

    assert config.factory_lab_id == qa_lab
    assert plan_retirements(config, [base], [], NOW) == []
