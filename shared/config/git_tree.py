"""Read the configuration files of a git tree, enforcing the repository rules."""

from __future__ import annotations

import logging
import posixpath
import stat

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, ObjectID, Tree

from shared.config import limits
from shared.config.issues import ConfigError, IssueCollector

logger = logging.getLogger(__name__)

GITLINK_MODE = 0o160000
_MAX_SYMLINK_HOPS = 8


def read_config_tree(store: BaseObjectStore, tree_id: ObjectID) -> dict[str, bytes]:
    """Return factory.yaml, labs.yaml and the YAML files below images/ of a tree.

    Also returns Labs.json and the JSON templates below GoldenImages/ of the
    PowerShell image factory's layout, at the root or in Configuration/. Hidden
    entries and files below images/ that are no YAML files are
    skipped. Symbolic links are followed to files inside the tree. Reading
    stops after MAX_IMAGE_FILES + 1 image files, so that the loader reports
    the excess. Raises ConfigError for symbolic links that leave the tree or
    name a folder, and for submodules.
    """
    return _TreeReader(store, tree_id).read()


class _TreeReader:
    """Reader of one tree's configuration files; collects rule violations as issues."""

    def __init__(self, store: BaseObjectStore, tree_id: ObjectID) -> None:
        self.store = store
        self.root_id = tree_id
        self.files: dict[str, bytes] = {}
        self.issues = IssueCollector()
        self.image_files = 0

    def read(self) -> dict[str, bytes]:
        root = self._tree(self.root_id)
        for name in (limits.FACTORY_FILE, limits.LABS_FILE, limits.IMAGES_DIR):
            if name.encode() in root:
                mode, sha = root[name.encode()]
                self._visit(name, mode, sha)
        for prefix in limits.LEGACY_ROOTS:
            # The PowerShell image factory's layout, which the loader converts.
            for name in (limits.LEGACY_LABS_FILE, limits.LEGACY_IMAGES_DIR):
                entry = self._lookup(prefix + name)
                if entry is not None:
                    self._visit(prefix + name, *entry)
        if self.issues.error_count:
            raise ConfigError(self.issues.sorted())
        return self.files

    def _tree(self, sha: ObjectID) -> Tree:
        obj = self.store[sha]
        assert isinstance(obj, Tree)
        return obj

    def _visit(self, path: str, mode: int, sha: ObjectID) -> None:
        if stat.S_ISDIR(mode):
            self._walk(path, sha)
        elif mode == GITLINK_MODE:
            self.issues.error(
                path,
                None,
                "",
                "submodules are not read. Copy the files into the repository.",
            )
        elif stat.S_ISLNK(mode):
            self._read_symlink(path, sha)
        else:
            self._read_blob(path, sha)

    def _walk(self, path: str, sha: ObjectID) -> None:
        suffixes = _folder_suffixes(path)
        if suffixes is None:
            self.issues.error(
                path, None, "", "expected a file, found a folder. Make it a file."
            )
            return
        for entry in self._tree(sha).iteritems():
            name = entry.path.decode("utf-8", errors="replace")
            if name.startswith("."):
                continue
            child = f"{path}/{name}"
            if stat.S_ISDIR(entry.mode) or entry.mode == GITLINK_MODE:
                self._visit(child, entry.mode, entry.sha)
            elif child.endswith(suffixes):
                self.image_files += 1
                if self.image_files > limits.MAX_IMAGE_FILES + 1:
                    return
                self._visit(child, entry.mode, entry.sha)

    def _read_blob(self, path: str, sha: ObjectID) -> None:
        obj = self.store[sha]
        if isinstance(obj, Blob):
            self.files[path] = obj.as_raw_string()

    def _read_symlink(self, path: str, sha: ObjectID) -> None:
        link, current_sha = path, sha
        for _ in range(_MAX_SYMLINK_HOPS):
            target = self.store[current_sha].as_raw_string().decode("utf-8", "replace")
            resolved = posixpath.normpath(
                posixpath.join(posixpath.dirname(link), target)
            )
            if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
                self.issues.error(
                    path,
                    None,
                    "",
                    f"symbolic link to '{target}' points outside the repository. "
                    "Replace the link with the file it points to.",
                )
                logger.warning("rejected symbolic link %s -> %s", path, target)
                return
            entry = self._lookup(resolved)
            if entry is None or stat.S_ISDIR(entry[0]) or entry[0] == GITLINK_MODE:
                self.issues.error(
                    path,
                    None,
                    "",
                    f"symbolic link to '{target}' does not point to a file in the "
                    "repository. Replace the link with the file it points to.",
                )
                return
            mode, current_sha = entry
            if not stat.S_ISLNK(mode):
                self._read_blob(path, current_sha)
                return
            link = resolved
        self.issues.error(
            path,
            None,
            "",
            "symbolic link chain is too long. Replace the link with the file.",
        )

    def _lookup(self, path: str) -> tuple[int, ObjectID] | None:
        tree = self._tree(self.root_id)
        segments = path.split("/")
        for index, segment in enumerate(segments):
            if segment.encode() not in tree:
                return None
            mode, sha = tree[segment.encode()]
            if index == len(segments) - 1:
                return mode, sha
            if not stat.S_ISDIR(mode):
                return None
            tree = self._tree(sha)
        return None


def _folder_suffixes(path: str) -> tuple[str, ...] | None:
    """Return the suffixes of the files read below a folder, or None for other folders."""
    if path == limits.IMAGES_DIR or path.startswith(limits.IMAGES_DIR + "/"):
        return (limits.IMAGE_SUFFIX, ".yml")
    for prefix in limits.LEGACY_ROOTS:
        folder = prefix + limits.LEGACY_IMAGES_DIR
        if path == folder or path.startswith(folder + "/"):
            suffix = limits.LEGACY_IMAGE_SUFFIX
            return (suffix, suffix.upper())
    return None
