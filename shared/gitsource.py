"""Fetch the configuration files of one commit from a git repository (dulwich).

The repository is a local path (bare or with a work tree), a file:// URL or
an https URL. An https repository is fetched into a temporary directory or
a cache directory. Credentials in its URL are sent as HTTP basic
authentication, and logs and error messages show the URL with them redacted.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from dulwich.client import HTTPUnauthorized, get_transport_and_path_from_url
from dulwich.config import ConfigDict
from dulwich.errors import NotGitRepository
from dulwich.objects import Commit, ObjectID, Tag
from dulwich.repo import BaseRepo, Repo

from shared.config.git_tree import read_config_tree
from shared.errors import FactoryError

logger = logging.getLogger(__name__)

_SHA_RE = re.compile(r"[0-9a-fA-F]{40}")
_MAX_SYMLINK_HOPS = 8
_REDACTED = "***"


@dataclass(frozen=True)
class ConfigSnapshot:
    """The configuration files of one commit, keyed by repository-relative path."""

    commit: str
    files: dict[str, bytes]


class ConfigSourceError(FactoryError):
    """The configuration repository or ref cannot be read.

    `repo` is the repository URL with credentials redacted. `retryable` is
    true for network failures that a later attempt can get past.
    """

    def __init__(self, message: str, *, repo: str, ref: str, retryable: bool = False):
        super().__init__(message, retryable=retryable)
        self.repo = repo
        self.ref = ref


def redact_url(url: str) -> str:
    """Return a URL with its password (or a lone user name, often a token) replaced."""
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, has_password, _ = userinfo.partition(":")
    masked = f"{user}:{_REDACTED}" if has_password else _REDACTED
    return urlunsplit((parts.scheme, f"{masked}@{host}", parts.path, parts.query, ""))


def fetch_config(
    repo_url: str,
    ref: str,
    *,
    cache_dir: Path | None = None,
    ca_bundle: str | None = None,
    timeout: float = 60.0,
) -> ConfigSnapshot:
    """Return factory.yaml, labs.yaml and the files below images/ at a ref.

    `ref` is a 40-character commit sha, a branch name ("main"), a full ref
    name ("refs/heads/main") or "HEAD". For an https repository, `cache_dir`
    keeps the fetched objects between calls (otherwise a temporary directory
    is used), `ca_bundle` names a PEM file of trusted CAs (default: the
    system's) and `timeout` limits each HTTP request, in seconds.

    Raises ConfigSourceError when the repository or ref cannot be read, and
    ConfigError when the tree breaks the repository rules (symbolic links
    leaving the repository, submodules).
    """
    safe_url = redact_url(repo_url)
    if not ref or not ref.strip():
        raise ConfigSourceError(
            f"no ref given for {safe_url}. Pass a branch name or a commit sha.",
            repo=safe_url,
            ref=ref,
        )
    scheme = urlsplit(repo_url).scheme.lower()
    if scheme in ("https", "http"):
        if scheme == "http":
            raise ConfigSourceError(
                f"rejected plain-http repository URL {safe_url}, because it would "
                "send credentials unencrypted. Use an https URL.",
                repo=safe_url,
                ref=ref,
            )
        with _fetched_repo(repo_url, ref, cache_dir, ca_bundle, timeout) as (
            repo,
            refs,
        ):
            snapshot = _snapshot(repo, ref, refs, safe_url)
    else:
        with _local_repo(repo_url, ref) as repo:
            snapshot = _snapshot(repo, ref, _local_refs(repo), safe_url)
    logger.info(
        "read %d configuration files from %s at %s (commit %s)",
        len(snapshot.files),
        safe_url,
        ref,
        snapshot.commit,
    )
    return snapshot


@contextmanager
def _local_repo(location: str, ref: str) -> Iterator[Repo]:
    safe_url = redact_url(location)
    if location.startswith("file://"):
        path = Path(unquote(urlsplit(location).path))
    elif "://" in location:
        raise ConfigSourceError(
            f"unsupported repository URL {safe_url}. Use an https URL or a local path.",
            repo=safe_url,
            ref=ref,
        )
    else:
        path = Path(location)
    if not path.exists():
        raise ConfigSourceError(
            f"repository {safe_url} not found. "
            "Check the path of the configuration repository.",
            repo=safe_url,
            ref=ref,
        )
    try:
        repo = Repo(str(path))
    except NotGitRepository as exc:
        raise ConfigSourceError(
            f"{safe_url} is not a git repository. "
            "Point the setting at a clone or a bare repository.",
            repo=safe_url,
            ref=ref,
        ) from exc
    try:
        yield repo
    finally:
        repo.close()


def _local_refs(repo: Repo) -> dict[bytes, bytes]:
    refs = repo.get_refs()
    return {bytes(name): bytes(sha) for name, sha in refs.items()}


@contextmanager
def _fetched_repo(
    url: str, ref: str, cache_dir: Path | None, ca_bundle: str | None, timeout: float
) -> Iterator[tuple[Repo, dict[bytes, bytes]]]:
    safe_url = redact_url(url)
    clean_url, username, password = _split_credentials(url)
    config = ConfigDict()
    config.set((b"http",), b"timeout", str(timeout).encode())
    if ca_bundle:
        config.set((b"http",), b"sslCAInfo", ca_bundle.encode())

    with _target_directory(clean_url, cache_dir) as directory:
        repo = (
            Repo(str(directory))
            if (directory / "objects").is_dir()
            else Repo.init_bare(str(directory))
        )
        try:
            client, path = get_transport_and_path_from_url(
                clean_url,
                config=config,
                username=username,
                password=password,
                quiet=True,
            )
            wants = _DetermineWants(repo, ref)
            try:
                client.fetch(path, repo, determine_wants=wants)
            except Exception as exc:
                raise _fetch_error(exc, safe_url, ref, password) from exc
            logger.debug("fetched %s into %s", safe_url, directory)
            yield repo, wants.remote_refs
        finally:
            repo.close()


@contextmanager
def _target_directory(clean_url: str, cache_dir: Path | None) -> Iterator[Path]:
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="factory-config-") as temporary:
            yield Path(temporary)
        return
    # NOTE: concurrent fetches into one cache directory are not coordinated.
    # Objects are content-addressed and dulwich moves finished packs into
    # place, which looks safe, but no test exercises two writers at once.
    key = hashlib.sha256(clean_url.encode()).hexdigest()[:16]
    directory = Path(cache_dir) / f"config-{key}.git"
    directory.mkdir(parents=True, exist_ok=True)
    yield directory


def _split_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return clean, username, password


class _DetermineWants:
    """determine_wants callback that selects the objects to fetch.

    For a branch or full ref name it wants that ref's commit. For a sha it
    wants the sha itself when a ref advertises it, else every branch head,
    because servers may reject a request for an unadvertised object.
    """

    def __init__(self, repo: Repo, ref: str) -> None:
        self.repo = repo
        self.ref = ref
        self.remote_refs: dict[bytes, bytes] = {}

    def __call__(self, refs: Mapping[Any, Any], depth: int | None = None) -> list[Any]:
        self.remote_refs = {
            bytes(name): bytes(sha)
            for name, sha in refs.items()
            if sha is not None and not bytes(name).endswith(b"^{}")
        }
        if _SHA_RE.fullmatch(self.ref):
            sha = self.ref.lower().encode()
            if sha in self.remote_refs.values():
                candidates = [sha]
            else:
                candidates = [
                    head
                    for name, head in self.remote_refs.items()
                    if name.startswith(b"refs/heads/")
                ]
        else:
            found = _lookup_ref(self.remote_refs, self.ref)
            candidates = [found] if found is not None else []
        store = self.repo.object_store
        return [sha for sha in dict.fromkeys(candidates) if ObjectID(sha) not in store]


def _fetch_error(
    exc: Exception, safe_url: str, ref: str, password: str | None
) -> ConfigSourceError:
    detail = str(exc) or type(exc).__name__
    if password:
        detail = detail.replace(password, _REDACTED)
    if isinstance(exc, HTTPUnauthorized):
        message = (
            f"authentication to {safe_url} failed. "
            "Check the repository token and its read access."
        )
        return ConfigSourceError(message, repo=safe_url, ref=ref)
    if isinstance(exc, NotGitRepository):
        message = f"repository {safe_url} not found ({detail}). Check the URL."
        return ConfigSourceError(message, repo=safe_url, ref=ref)
    if "CERTIFICATE_VERIFY_FAILED" in detail:
        message = (
            f"the TLS certificate of {safe_url} is not trusted: {detail}. "
            "Pass the CA bundle that signed the server's certificate."
        )
        return ConfigSourceError(message, repo=safe_url, ref=ref)
    # Connection failures, time-outs and dropped connections (dulwich raises
    # HangupException, GitProtocolError, OSError or urllib3 errors for them).
    message = (
        f"fetching {safe_url} failed: {type(exc).__name__}: {detail}. "
        "A later attempt may succeed. If it keeps failing, check the URL and "
        "the network."
    )
    return ConfigSourceError(message, repo=safe_url, ref=ref, retryable=True)


def _lookup_ref(refs: Mapping[bytes, bytes], ref: str) -> bytes | None:
    if ref == "HEAD" or ref.startswith("refs/"):
        return refs.get(ref.encode())
    return refs.get(f"refs/heads/{ref}".encode())


def _snapshot(
    repo: BaseRepo, ref: str, refs: Mapping[bytes, bytes], safe_url: str
) -> ConfigSnapshot:
    commit = _resolve_commit(repo, ref, refs, safe_url)
    files = read_config_tree(repo.object_store, commit.tree)
    return ConfigSnapshot(commit=commit.id.decode("ascii"), files=files)


def _resolve_commit(
    repo: BaseRepo, ref: str, refs: Mapping[bytes, bytes], safe_url: str
) -> Commit:
    if _SHA_RE.fullmatch(ref):
        sha = ObjectID(ref.lower().encode())
        if sha not in repo.object_store:
            raise ConfigSourceError(
                f"commit {ref} not found in {safe_url}. Push the commit, or pass a sha "
                "that is reachable from a branch.",
                repo=safe_url,
                ref=ref,
            )
    else:
        found = _lookup_ref(refs, ref)
        if found is None:
            branches = sorted(
                name.decode(errors="replace").removeprefix("refs/heads/")
                for name in refs
                if name.startswith(b"refs/heads/")
            )
            raise ConfigSourceError(
                f"ref '{ref}' not found in {safe_url}. Branches: "
                f"{', '.join(branches) or 'none'}. "
                "Pass an existing branch or a commit sha.",
                repo=safe_url,
                ref=ref,
            )
        sha = ObjectID(found)

    obj = repo.object_store[sha]
    while isinstance(obj, Tag):
        obj = repo.object_store[obj.object[1]]
    if not isinstance(obj, Commit):
        raise ConfigSourceError(
            f"'{ref}' in {safe_url} names a {obj.type_name.decode()}, not a commit. "
            "Pass a branch or a commit sha.",
            repo=safe_url,
            ref=ref,
        )
    return obj
