"""Images built on other images: validation, build order and content hash."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, load_config_files
from shared.config.model import ParentImage, ResolvedParent

from .helpers import find_issue, labs_yaml, load_catalog, load_errors, minimal_files


def layered(parent: str, os_type: str = "Linux", extra: str = "") -> str:
    artifact = "linux-java" if os_type == "Linux" else "windows-7zip"
    return f"""\
os_type: {os_type}
base:
  image: {parent}
artifacts:
  - name: {artifact}
{extra}"""


def files_with(images: dict[str, str], *patterns: str) -> dict[str, bytes]:
    changes: dict[str, str | bytes | None] = {
        f"images/{name}.yaml": text for name, text in images.items()
    }
    changes["labs.yaml"] = labs_yaml(*(patterns or ("linux", "windows")))
    return minimal_files(changes)


def test_layered_image_loads_with_parent() -> None:
    config = load_config_files(
        files_with({"linux/tools": layered("linux/base")}), load_catalog()
    )
    image = config.images["linux/tools"]

    assert image.base == ParentImage("linux/base")
    assert image.parent == "linux/base"
    assert config.children("linux/base") == ["linux/tools"]
    assert config.warnings == []


def test_layered_unknown_parent_suggests_name() -> None:
    errors = load_errors(files_with({"linux/tools": layered("linux/bsae")}))
    issue = find_issue(errors, "base.image")

    assert issue.file == "images/linux/tools.yaml"
    assert (issue.line, issue.column) == (3, 10)
    assert "image 'linux/bsae' not found. Did you mean 'linux/base'?" in issue.message


def test_layered_invalid_parent_name() -> None:
    errors = load_errors(files_with({"linux/tools": layered("Linux/Base.yaml")}))
    issue = find_issue(errors, "base.image")

    assert "invalid image name 'Linux/Base.yaml'" in issue.message


def test_layered_os_type_mismatch() -> None:
    errors = load_errors(
        files_with({"linux/tools": layered("windows/base", os_type="Linux")})
    )
    issue = find_issue(errors, "base.image")

    assert "'windows/base' is a Windows image" in issue.message
    assert "has os_type Linux" in issue.message


def test_layered_self_reference() -> None:
    errors = load_errors(files_with({"linux/tools": layered("linux/tools")}))
    issue = find_issue(errors, "base.image")

    assert "is built on itself" in issue.message


def test_layered_cycle_reports_path_once() -> None:
    errors = load_errors(
        files_with(
            {
                "linux/a": layered("linux/b"),
                "linux/b": layered("linux/c"),
                "linux/c": layered("linux/a"),
            }
        )
    )
    cycles = [issue for issue in errors if "cycle" in issue.message]

    assert len(cycles) == 1
    assert cycles[0].file == "images/linux/a.yaml"
    assert "linux/a -> linux/b -> linux/c -> linux/a" in cycles[0].message
    assert cycles[0].line == 3


def test_layered_cycle_of_two() -> None:
    errors = load_errors(
        files_with({"linux/a": layered("linux/b"), "linux/b": layered("linux/a")})
    )
    cycles = [issue for issue in errors if "cycle" in issue.message]

    assert len(cycles) == 1
    assert "linux/a -> linux/b -> linux/a" in cycles[0].message


def test_layered_chain_depth_limit() -> None:
    images = {"linux/l1": layered("linux/base")}
    for level in range(2, 6):
        images[f"linux/l{level}"] = layered(f"linux/l{level - 1}")

    errors = load_errors(files_with(images))
    issue = find_issue(errors, "base.image")

    assert issue.file == "images/linux/l5.yaml"
    assert "chain of 6 images" in issue.message
    assert "linux/l5 -> linux/l4 -> linux/l3 -> linux/l2 -> linux/l1 -> linux/base" in (
        issue.message
    )


def test_layered_chain_at_limit_loads() -> None:
    images = {"linux/l1": layered("linux/base")}
    for level in range(2, 5):
        images[f"linux/l{level}"] = layered(f"linux/l{level - 1}")

    config = load_config_files(files_with(images))

    assert len(config.images) == 6


def test_layered_parent_with_errors_not_reported_again() -> None:
    broken_parent = "os_type: Linux\nbase:\n  gallery: {publisher: Canonical}\n"
    errors = load_errors(
        files_with({"linux/base": broken_parent, "linux/tools": layered("linux/base")})
    )

    assert all(issue.file == "images/linux/base.yaml" for issue in errors)


def test_base_with_gallery_and_image_rejected() -> None:
    image = """\
os_type: Linux
base:
  gallery: {publisher: Canonical, offer: x, sku: y}
  image: linux/base
"""
    errors = load_errors(files_with({"linux/tools": image}))
    issue = find_issue(errors, "base.image")

    assert "sets both 'gallery' and 'image'" in issue.message


def test_empty_base_rejected() -> None:
    errors = load_errors(files_with({"linux/tools": "os_type: Linux\nbase: {}\n"}))
    issue = find_issue(errors, "base")

    assert "base names no image" in issue.message


def test_parent_without_subscriber_gets_no_warning() -> None:
    config = load_config_files(
        files_with({"linux/tools": layered("linux/base")}, "linux/tools", "windows")
    )

    assert config.warnings == []


def test_build_order_puts_parents_first() -> None:
    config = load_config_files(
        files_with(
            {
                "linux/a-top": layered("linux/m-middle"),
                "linux/m-middle": layered("linux/base"),
            }
        )
    )
    order = config.build_order()

    assert order.index("linux/base") < order.index("linux/m-middle")
    assert order.index("linux/m-middle") < order.index("linux/a-top")
    assert sorted(order) == sorted(config.images)


def test_layered_hash_depends_on_parent_version() -> None:
    config = load_config_files(files_with({"linux/tools": layered("linux/base")}))
    image = config.images["linux/tools"]
    parent_hash = config.images["linux/base"].content_hash()
    first = ResolvedParent("linux/base", "20261201.000000", parent_hash)
    rebuilt = ResolvedParent("linux/base", "20261204.153000", parent_hash)
    changed = ResolvedParent("linux/base", "20261201.000000", "0" * 64)

    assert image.content_hash(first) == image.content_hash(first)
    assert image.content_hash(first) != image.content_hash(rebuilt)
    assert image.content_hash(first) != image.content_hash(changed)
    assert image.content_hash() not in {
        image.content_hash(first),
        image.content_hash(rebuilt),
    }


def test_layered_hash_rejects_wrong_parent() -> None:
    config = load_config_files(files_with({"linux/tools": layered("linux/base")}))
    other = ResolvedParent("linux/other", "20261201.000000", "0" * 64)

    with pytest.raises(ValueError, match="built on 'linux/base'"):
        config.images["linux/tools"].content_hash(other)
    with pytest.raises(ValueError, match="built on a gallery image"):
        config.images["linux/base"].content_hash(other)


def test_gallery_hash_unchanged_by_layering_support() -> None:
    config = load_config_files(minimal_files())

    # The hash of a gallery-based image must not change between releases,
    # or every image would rebuild after an upgrade.
    assert config.images["linux/base"].content_hash() == (
        "63eed5a75c8dbbb11703643bcd80275733e533148343e78f5caae4f2b5fc09bd"
    )


def test_max_lifetime_days_default_and_override() -> None:
    factory_yaml = minimal_files()["factory.yaml"].decode()
    factory_yaml += "defaults:\n  max_lifetime_days: 90\n"
    windows = minimal_files()["images/windows/base.yaml"].decode()
    config = load_config_files(
        minimal_files(
            {
                "factory.yaml": factory_yaml,
                "images/windows/base.yaml": windows + "max_lifetime_days: 60\n",
            }
        )
    )

    assert config.defaults.max_lifetime_days == 90
    assert config.images["linux/base"].max_lifetime_days == 90
    assert config.images["windows/base"].max_lifetime_days == 60


def test_max_lifetime_days_defaults_to_none() -> None:
    config = load_config_files(minimal_files())

    assert config.images["linux/base"].max_lifetime_days is None


def test_max_lifetime_days_out_of_range() -> None:
    linux = minimal_files()["images/linux/base.yaml"].decode()
    errors = load_errors(
        minimal_files({"images/linux/base.yaml": linux + "max_lifetime_days: 0\n"})
    )
    issue = find_issue(errors, "max_lifetime_days")

    assert "0 is out of range. Use a whole number from 1 to 3650." in issue.message


def test_max_lifetime_shorter_than_refresh() -> None:
    linux = minimal_files()["images/linux/base.yaml"].decode()
    errors = load_errors(
        minimal_files(
            {
                "images/linux/base.yaml": linux
                + "refresh_days: 30\nmax_lifetime_days: 20\n"
            }
        )
    )
    issue = find_issue(errors, "max_lifetime_days")

    assert issue.line == 13
    assert "is not longer than refresh_days (30)" in issue.message


def test_config_error_has_layering_and_other_errors() -> None:
    files = files_with({"linux/tools": layered("linux/nothing")})
    files["images/windows/base.yaml"] += b"refresh_days: 0\n"

    with pytest.raises(ConfigError) as caught:
        load_config_files(files)

    assert {issue.field for issue in caught.value.errors} == {
        "base.image",
        "refresh_days",
    }
