"""Content hash and custom image names of image definitions."""

from __future__ import annotations

import pytest

from shared.config import load_config_files
from shared.config.limits import MAX_CUSTOM_IMAGE_NAME, MAX_IMAGE_NAME

from .helpers import labs_yaml, minimal_files

IMAGE = """\
description: Ubuntu with tools
os_type: Linux
base:
  gallery:
    publisher: Canonical
    offer: 0001-com-ubuntu-server-jammy
    sku: 22_04-lts-gen2
artifacts:
  - name: linux-apt-package
    parameters:
      packages: git jq
      update: "true"
  - name: linux-install-docker
"""

# The same image with keys reordered, flow style, comments and other spacing.
IMAGE_REORDERED = """\
# comments do not count
artifacts:
  - parameters: {update: "true",   packages: "git jq"}
    name: linux-apt-package
  - linux-install-docker
base:
  gallery: {sku: 22_04-lts-gen2, offer: 0001-com-ubuntu-server-jammy, publisher: Canonical}
os_type: Linux
description: Ubuntu with tools
"""


def image_hash(content: str) -> str:
    config = load_config_files(minimal_files({"images/linux/base.yaml": content}))
    return config.images["linux/base"].content_hash()


def test_hash_is_sha256_hex() -> None:
    digest = image_hash(IMAGE)

    assert len(digest) == 64
    assert int(digest, 16) >= 0


def test_hash_ignores_key_order_and_whitespace() -> None:
    assert image_hash(IMAGE_REORDERED) == image_hash(IMAGE)


def test_hash_changes_with_parameter_value() -> None:
    changed = IMAGE.replace("packages: git jq", "packages: git jq curl")

    assert image_hash(changed) != image_hash(IMAGE)


def test_hash_changes_with_artifact_order() -> None:
    swapped = IMAGE.replace(
        "  - name: linux-apt-package\n"
        "    parameters:\n"
        "      packages: git jq\n"
        '      update: "true"\n'
        "  - name: linux-install-docker\n",
        "  - name: linux-install-docker\n"
        "  - name: linux-apt-package\n"
        "    parameters:\n"
        "      packages: git jq\n"
        '      update: "true"\n',
    )

    assert swapped != IMAGE
    assert image_hash(swapped) != image_hash(IMAGE)


@pytest.mark.parametrize(
    "old, new",
    [
        ("sku: 22_04-lts-gen2", "sku: 22_04-lts"),
        ("offer: 0001-com-ubuntu-server-jammy", "offer: ubuntu-24_04-lts"),
        ("  - name: linux-install-docker\n", ""),
    ],
)
def test_hash_changes_with_image_content(old: str, new: str) -> None:
    assert old in IMAGE
    assert image_hash(IMAGE.replace(old, new)) != image_hash(IMAGE)


@pytest.mark.parametrize(
    "addition",
    [
        "vm_size: Standard_D8s_v3\n",
        "storage_type: Premium\n",
        "versions_to_keep: 5\n",
        "build_timeout_minutes: 300\n",
        "refresh_days: 3\n",
    ],
)
def test_hash_ignores_build_settings(addition: str) -> None:
    assert image_hash(IMAGE + addition) == image_hash(IMAGE)


def test_hash_ignores_description() -> None:
    changed = IMAGE.replace("Ubuntu with tools", "Developer workstation")

    assert image_hash(changed) == image_hash(IMAGE)


def test_hash_same_for_bool_and_quoted_string() -> None:
    quoted = IMAGE.replace('update: "true"', "update: true")

    assert image_hash(quoted) == image_hash(IMAGE)


def test_custom_image_name_uses_slug_and_version() -> None:
    config = load_config_files(minimal_files())
    image = config.images["linux/base"]

    assert image.custom_image_name("20261204.153000") == "linux-base-20261204-153000"


def test_longest_image_name_fits_custom_image_limit() -> None:
    name = "a" * (MAX_IMAGE_NAME - 2) + "/b"
    config = load_config_files(
        minimal_files(
            {
                f"images/{name}.yaml": IMAGE,
                "labs.yaml": labs_yaml("linux", "windows", "a*/"),
            }
        )
    )
    image = config.images[name]

    assert len(image.custom_image_name("20261204.153000")) == MAX_CUSTOM_IMAGE_NAME
