"""Limits and fixed names of the configuration repository format."""

from __future__ import annotations

FACTORY_FILE = "factory.yaml"
LABS_FILE = "labs.yaml"
IMAGES_DIR = "images"
IMAGE_SUFFIX = ".yaml"

# The layout of the PowerShell image factory: Labs.json and one ARM template
# per golden image below GoldenImages/, at the root or in Configuration/.
LEGACY_LABS_FILE = "Labs.json"
LEGACY_IMAGES_DIR = "GoldenImages"
LEGACY_IMAGE_SUFFIX = ".json"
LEGACY_ROOTS = ("", "Configuration/")

# Hostile-input limits: every file is read whole into memory and parsed.
MAX_FILE_BYTES = 256 * 1024
MAX_IMAGE_FILES = 500
MAX_YAML_DEPTH = 32

# DevTest Labs rejects custom image names longer than 80 characters. The
# factory names a custom image "<slug>-<version>", where the slug is the
# image name with "/" replaced by "-" and the version is the run's start
# time with "." replaced by "-" ("20261204-153000", 15 characters), so the
# slug has 80 - 16 characters.
MAX_CUSTOM_IMAGE_NAME = 80
VERSION_LABEL_CHARS = 15
MAX_IMAGE_NAME = MAX_CUSTOM_IMAGE_NAME - VERSION_LABEL_CHARS - 1

MAX_LAB_NAME = 64

# Artifacts that generalize the build VM. The factory appends the one for the
# image's OS itself, so an image definition must not list them.
GENERALIZE_ARTIFACTS = {"Windows": "windows-sysprep", "Linux": "linux-deprovision"}

OS_TYPES = ("Windows", "Linux")
STORAGE_TYPES = ("Standard", "Premium", "StandardSSD")

DEFAULT_VM_SIZE = "Standard_D2s_v3"
DEFAULT_STORAGE_TYPE = "Standard"
DEFAULT_VERSIONS_TO_KEEP = 2
DEFAULT_BUILD_TIMEOUT_MINUTES = 120
DEFAULT_REFRESH_DAYS = 30
# No maximum lifetime unless factory.yaml or the image sets one.
DEFAULT_MAX_LIFETIME_DAYS: int | None = None

VERSIONS_TO_KEEP_RANGE = (1, 50)
BUILD_TIMEOUT_MINUTES_RANGE = (10, 1440)
REFRESH_DAYS_RANGE = (1, 365)
MAX_LIFETIME_DAYS_RANGE = (1, 3650)

# A chain of images built on each other is at most this many images long,
# counting the one built on a gallery image. A change to the first image of a
# chain rebuilds every image after it, one after the other, in one run.
MAX_LAYER_DEPTH = 5
