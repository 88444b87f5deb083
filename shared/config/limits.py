"""Limits and fixed names of the configuration repository format."""

from __future__ import annotations

FACTORY_FILE = "factory.yaml"
LABS_FILE = "labs.yaml"
IMAGES_DIR = "images"
IMAGE_SUFFIX = ".yaml"

# Hostile-input limits: every file is read whole into memory and parsed.
MAX_FILE_BYTES = 256 * 1024
MAX_IMAGE_FILES = 500
MAX_YAML_DEPTH = 32

# DevTest Labs rejects custom image names longer than 80 characters. The
# factory names a custom image "<slug>-<first 10 hex of the content hash>",
# so the slug (image name with "/" replaced by "-") has 80 - 11 characters.
MAX_CUSTOM_IMAGE_NAME = 80
CUSTOM_IMAGE_HASH_CHARS = 10
MAX_IMAGE_NAME = MAX_CUSTOM_IMAGE_NAME - CUSTOM_IMAGE_HASH_CHARS - 1

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

VERSIONS_TO_KEEP_RANGE = (1, 50)
BUILD_TIMEOUT_MINUTES_RANGE = (10, 1440)
REFRESH_DAYS_RANGE = (1, 365)
