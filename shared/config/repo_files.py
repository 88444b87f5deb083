"""Select the configuration files of a repository and read them from a directory."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.config import limits
from shared.config.issues import IssueCollector

logger = logging.getLogger(__name__)

_IMAGES_PREFIX = limits.IMAGES_DIR + "/"


@dataclass
class SelectedFiles:
    """The files that make up a configuration, keyed by repository-relative path."""

    factory: bytes | None = None
    labs: bytes | None = None
    images: dict[str, tuple[str, bytes]] = field(
        default_factory=dict
    )  # name -> (path, data)
    oversized: set[str] = field(default_factory=set)


def path_problem(path: str) -> str | None:
    """Return why a repository-relative path is unsafe, or None when it is fine."""
    if not path:
        return "empty file path. Use repository-relative POSIX paths."
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return f"absolute path '{path}'. Use repository-relative POSIX paths."
    if "\\" in path or "\x00" in path:
        return (
            f"path '{path!r}' contains a backslash or NUL. Use '/' to separate folders."
        )
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        return (
            f"path '{path}' has an empty, '.' or '..' segment. "
            "Name files inside the repository."
        )
    return None


def is_config_path(path: str) -> bool:
    """Return whether a path is factory.yaml, labs.yaml or below images/."""
    return path in (limits.FACTORY_FILE, limits.LABS_FILE) or path.startswith(
        _IMAGES_PREFIX
    )


def image_name_of(path: str) -> str | None:
    """Return the image name of a path, or None when it is no image file.

    Hidden files and folders (names starting with ".") and files of other
    types, such as README.md, are not image files.
    """
    if not path.startswith(_IMAGES_PREFIX) or not path.endswith(limits.IMAGE_SUFFIX):
        return None
    if _hidden(path):
        return None
    return path[len(_IMAGES_PREFIX) : -len(limits.IMAGE_SUFFIX)]


def _hidden(path: str) -> bool:
    return any(segment.startswith(".") for segment in path.split("/"))


def select_files(
    files: Mapping[str, bytes], issues: IssueCollector
) -> SelectedFiles | None:
    """Pick the configuration files out of a repository's files.

    Reports unsafe paths, ".yml" image files, files over MAX_FILE_BYTES and
    more than MAX_IMAGE_FILES image files. Returns None when there are too
    many image files, because nothing else is checked then.
    """
    selected = SelectedFiles()
    image_paths = []
    for path in sorted(files):
        problem = path_problem(path)
        if problem is not None:
            issues.error(path or "<empty path>", None, "", problem)
        elif (
            path.startswith(_IMAGES_PREFIX)
            and path.endswith(".yml")
            and not _hidden(path)
        ):
            issues.error(
                path,
                None,
                "",
                "image files use the '.yaml' extension. Rename the file.",
            )
        elif image_name_of(path) is not None:
            image_paths.append(path)

    if len(image_paths) > limits.MAX_IMAGE_FILES:
        issues.error(
            limits.IMAGES_DIR,
            None,
            "",
            f"more than {limits.MAX_IMAGE_FILES} image files "
            f"(found {len(image_paths)}). Split the images over several factories.",
        )
        return None

    selected.factory = _checked_size(files, limits.FACTORY_FILE, issues, selected)
    selected.labs = _checked_size(files, limits.LABS_FILE, issues, selected)
    for path in image_paths:
        data = _checked_size(files, path, issues, selected)
        name = image_name_of(path)
        if data is not None and name is not None:
            selected.images[name] = (path, data)
    return selected


def _checked_size(
    files: Mapping[str, bytes],
    path: str,
    issues: IssueCollector,
    selected: SelectedFiles,
) -> bytes | None:
    data = files.get(path)
    if data is None or len(data) <= limits.MAX_FILE_BYTES:
        return data
    issues.error(
        path,
        None,
        "",
        f"file is larger than {limits.MAX_FILE_BYTES // 1024} KiB. "
        "Split it into smaller files or remove what is not configuration.",
    )
    selected.oversized.add(path)
    return None


def read_directory(root: Path, issues: IssueCollector) -> dict[str, bytes]:
    """Read the configuration files below a directory, as load_config_files takes them.

    Symbolic links are followed only while they stay inside the directory.
    Reads at most MAX_FILE_BYTES + 1 bytes of a file and stops after
    MAX_IMAGE_FILES + 1 image files, so that the loader reports the excess.
    """
    files: dict[str, bytes] = {}
    reader = _DirectoryReader(root.resolve(strict=True), issues, files)
    top_level = os.listdir(reader.root)
    for name in (limits.FACTORY_FILE, limits.LABS_FILE):
        # A case variant such as Factory.yaml is read too, so that the loader
        # can name it in the "missing" error.
        for entry in top_level:
            if entry.lower() == name:
                reader.read_file(reader.root / entry, entry)
    images = reader.root / limits.IMAGES_DIR
    if os.path.lexists(images):
        reader.walk(images, limits.IMAGES_DIR)
    for prefix in limits.LEGACY_ROOTS:
        # The PowerShell image factory's layout, which the loader converts.
        labs_json = prefix + limits.LEGACY_LABS_FILE
        if os.path.lexists(reader.root / labs_json):
            reader.read_file(reader.root / labs_json, labs_json)
        templates = prefix + limits.LEGACY_IMAGES_DIR
        if os.path.lexists(reader.root / templates):
            suffix = limits.LEGACY_IMAGE_SUFFIX
            reader.walk(reader.root / templates, templates, (suffix, suffix.upper()))
    return files


class _DirectoryReader:
    def __init__(
        self, root: Path, issues: IssueCollector, files: dict[str, bytes]
    ) -> None:
        self.root = root
        self.issues = issues
        self.files = files
        self.image_count = 0
        self.visited: set[Path] = set()

    def walk(
        self,
        path: Path,
        relative: str,
        suffixes: tuple[str, ...] = (limits.IMAGE_SUFFIX, ".yml"),
    ) -> None:
        real = self._resolve_inside(path, relative)
        if real is None or real in self.visited:
            return
        if not real.is_dir():
            self.issues.error(
                relative, None, "", f"expected a folder. Make {relative}/ a folder."
            )
            return
        self.visited.add(real)
        for entry in sorted(os.scandir(real), key=lambda item: item.name):
            if entry.name.startswith("."):
                continue
            if self.image_count > limits.MAX_IMAGE_FILES:
                return
            child = f"{relative}/{entry.name}"
            if entry.is_dir():
                self.walk(Path(entry.path), child, suffixes)
            elif child.endswith(suffixes):
                self.image_count += 1
                self.read_file(Path(entry.path), child)

    def read_file(self, path: Path, relative: str) -> None:
        real = self._resolve_inside(path, relative)
        if real is None:
            return
        try:
            if not stat.S_ISREG(real.stat().st_mode):
                self.issues.error(
                    relative,
                    None,
                    "",
                    "not a regular file. Replace it with a plain YAML file.",
                )
                return
            with real.open("rb") as handle:
                self.files[relative] = handle.read(limits.MAX_FILE_BYTES + 1)
        except OSError as exc:
            self.issues.error(
                relative, None, "", f"cannot read file: {exc.strerror}. Check the file."
            )

    def _resolve_inside(self, path: Path, relative: str) -> Path | None:
        real = path.resolve()
        if real != self.root and self.root not in real.parents:
            self.issues.error(
                relative,
                None,
                "",
                "symbolic link points outside the repository. "
                "Replace the link with the file it points to.",
            )
            logger.warning("rejected symbolic link %s leaving %s", relative, self.root)
            return None
        return real
