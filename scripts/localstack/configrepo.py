"""A local git repository that plays the factory's configuration repository."""

from __future__ import annotations

import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from dulwich import porcelain
from dulwich.objects import Commit, ObjectID
from dulwich.refs import Ref
from dulwich.repo import Repo

DEFAULT_BRANCH = "main"
AUTHOR_NAME = "Image Factory Demo"
AUTHOR_EMAIL = "factory-demo@example.com"


@dataclass(frozen=True)
class CommitInfo:
    """One commit and the files it changed, in the terms of a push webhook."""

    sha: str
    tree: str
    parent: str | None
    message: str
    timestamp: datetime
    author_name: str
    author_email: str
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class ConfigRepo:
    """A non-bare git repository on disk, written with dulwich."""

    def __init__(self, path: Path, branch: str = DEFAULT_BRANCH) -> None:
        self.path = Path(path).resolve()
        self.branch = branch

    @classmethod
    def create_from(
        cls,
        source_dir: Path,
        path: Path,
        *,
        branch: str = DEFAULT_BRANCH,
        message: str = "Add the image factory configuration",
    ) -> tuple[ConfigRepo, CommitInfo]:
        """Create a repository at path with source_dir's files in its first commit."""
        if path.exists():
            raise FileExistsError(
                f"{path} already exists; remove it or choose another path"
            )

        path.mkdir(parents=True)
        Repo.init(str(path), default_branch=branch.encode()).close()
        repo = cls(path, branch)

        files = {
            file.relative_to(source_dir).as_posix(): file.read_bytes()
            for file in sorted(source_dir.rglob("*"))
            if file.is_file()
        }
        return repo, repo.commit(files, message)

    @property
    def ref(self) -> str:
        return f"refs/heads/{self.branch}"

    def head(self) -> str | None:
        """Return the branch's commit sha, or None before the first commit."""
        with Repo(str(self.path)) as repo:
            try:
                return repo.refs[Ref(self.ref.encode())].decode()
            except KeyError:
                return None

    def commit(
        self, changes: Mapping[str, bytes | str | None], message: str
    ) -> CommitInfo:
        """Write, change or (for None) delete files and commit them to the branch.

        Paths are relative to the repository root and use '/'.
        """
        parent = self.head()
        existing = self._tracked_paths(parent)
        added: list[str] = []
        modified: list[str] = []
        removed: list[str] = []

        for relative, content in sorted(changes.items()):
            target = self.path / relative
            if content is None:
                if relative in existing:
                    porcelain.rm(str(self.path), paths=[str(target)])
                    removed.append(relative)
                continue

            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                content.encode() if isinstance(content, str) else content
            )
            porcelain.add(str(self.path), paths=[str(target)])
            (modified if relative in existing else added).append(relative)

        timestamp = int(time.time())
        identity = f"{AUTHOR_NAME} <{AUTHOR_EMAIL}>".encode()
        sha = porcelain.commit(
            str(self.path),
            message=message.encode(),
            author=identity,
            committer=identity,
            author_timestamp=timestamp,
            commit_timestamp=timestamp,
            author_timezone=0,
            commit_timezone=0,
        )
        return CommitInfo(
            sha=sha.decode(),
            tree=self._tree_of(sha.decode()),
            parent=parent,
            message=message,
            timestamp=datetime.fromtimestamp(timestamp, UTC),
            author_name=AUTHOR_NAME,
            author_email=AUTHOR_EMAIL,
            added=added,
            modified=modified,
            removed=removed,
        )

    def remove(self) -> None:
        """Delete the repository directory."""
        shutil.rmtree(self.path)

    def _tree_of(self, commit_sha: str) -> str:
        with Repo(str(self.path)) as repo:
            commit = repo[commit_sha.encode()]
            assert isinstance(commit, Commit)
            return commit.tree.decode()

    def _tracked_paths(self, commit_sha: str | None) -> set[str]:
        if commit_sha is None:
            return set()

        tree_sha = ObjectID(self._tree_of(commit_sha).encode())
        with Repo(str(self.path)) as repo:
            return {
                entry.path.decode()
                for entry in repo.object_store.iter_tree_contents(tree_sha)
                if entry.path is not None
            }
