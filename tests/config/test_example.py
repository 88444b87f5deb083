"""The example repository loads cleanly against the public artifact catalog."""

from __future__ import annotations

from shared.config import load_config_dir, load_config_files

from .helpers import EXAMPLE_DIR, LAB_PREFIX, example_files, load_catalog


def test_example_loads_without_issues() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())

    assert config.warnings == []
    assert config.factory_lab_id == LAB_PREFIX + "dtl-image-factory"
    assert len(config.images) >= 5


def test_example_has_windows_and_linux_images_in_folders() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())
    windows = [i for i in config.images.values() if i.os_type == "Windows"]
    linux = [i for i in config.images.values() if i.os_type == "Linux"]

    assert len(windows) >= 2
    assert len(linux) >= 2
    assert all("/" in name for name in config.images)


def test_example_labs_overlap() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())
    labs = {lab.name: lab for lab in config.labs}

    assert sorted(labs) == ["team-data", "team-qa", "team-web"]
    assert labs["team-web"].lab_id == LAB_PREFIX + "dtl-team-web"
    shared_images = [
        name for name in config.images if len(config.subscribers(name)) > 1
    ]
    assert shared_images, "at least one image goes to several labs"


def test_example_subscriptions() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())

    def received(lab_name: str) -> list[str]:
        lab = next(lab for lab in config.labs if lab.name == lab_name)
        return [image.name for image in config.images_for(lab)]

    assert received("team-web") == [
        "linux/ubuntu-data",
        "linux/ubuntu-docker",
        "linux/ubuntu-node",
        "windows/vs2022",
    ]
    assert received("team-data") == [
        "linux/ubuntu-data",
        "linux/ubuntu-docker",
        "windows/sql-tools",
    ]
    assert received("team-qa") == [
        "linux/ubuntu-docker",
        "windows/server2022-base",
        "windows/sql-tools",
        "windows/vs2022",
    ]


def test_example_defaults_and_overrides() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())
    vs2022 = config.images["windows/vs2022"]
    base = config.images["windows/server2022-base"]

    assert vs2022.vm_size == "Standard_D4s_v3"
    assert vs2022.build_timeout_minutes == 240
    assert vs2022.refresh_days == 14
    assert base.vm_size == config.defaults.vm_size
    assert base.storage_type == "StandardSSD"
    assert base.base.version == "latest"


def test_example_parameter_values_are_strings() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())
    vscode = next(
        artifact
        for artifact in config.images["windows/vs2022"].artifacts
        if artifact.name == "windows-vscode64"
    )

    assert vscode.parameters == {"Architecture": "64-bit", "DesktopIcon": "true"}


def test_example_files_and_dir_load_the_same() -> None:
    catalog = load_catalog()

    from_dir = load_config_dir(EXAMPLE_DIR, catalog)
    from_files = load_config_files(example_files(), catalog)

    assert from_dir == from_files


def test_example_versions_to_keep_per_lab() -> None:
    config = load_config_dir(EXAMPLE_DIR, load_catalog())
    qa = config.lab_named("team-qa")
    web = config.lab_named("team-web")
    image = config.images["windows/vs2022"]

    assert qa is not None and web is not None
    assert config.versions_to_keep_in(qa, image) == 1
    assert config.versions_to_keep_in(web, image) == image.versions_to_keep
