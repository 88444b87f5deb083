"""Git repositories for the git source tests, written with dulwich, and a loopback server."""

from __future__ import annotations

import base64
import ssl
import stat
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import trustme
from dulwich.objects import Blob, Commit, ObjectID, Tag, Tree
from dulwich.refs import Ref
from dulwich.repo import Repo
from dulwich.server import BackendRepo, DictBackend
from dulwich.web import make_wsgi_chain

FILE_MODE = stat.S_IFREG | 0o644
SYMLINK_MODE = stat.S_IFLNK
GITLINK_MODE = 0o160000

# A tree entry: file bytes, or (mode, content) for symbolic links and submodules.
Entry = bytes | tuple[int, bytes]


def write_tree(repo: Repo, files: dict[str, Entry]) -> ObjectID:
    """Store a tree holding `files` (repository-relative paths) and return its id."""
    children: dict[str, dict[str, Entry]] = {}
    tree = Tree()
    for path, entry in files.items():
        head, _, rest = path.partition("/")
        if rest:
            children.setdefault(head, {})[rest] = entry
            continue
        mode, content = entry if isinstance(entry, tuple) else (FILE_MODE, entry)
        if mode == GITLINK_MODE:
            tree.add(head.encode(), mode, ObjectID(content))
            continue
        blob = Blob.from_string(content)
        repo.object_store.add_object(blob)
        tree.add(head.encode(), mode, blob.id)
    for name, subtree in children.items():
        tree.add(name.encode(), stat.S_IFDIR, write_tree(repo, subtree))
    repo.object_store.add_object(tree)
    return tree.id


def init_repo(path: Path, *, bare: bool) -> Repo:
    """Create an empty repository whose HEAD names the branch main."""
    repo = (
        Repo.init_bare(str(path), mkdir=True)
        if bare
        else Repo.init(str(path), mkdir=True)
    )
    repo.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(b"refs/heads/main"))
    return repo


def commit_files(
    repo: Repo,
    files: dict[str, Entry],
    *,
    branch: str = "main",
    message: str = "Update the configuration",
) -> str:
    """Commit `files` as the whole tree on top of `branch` and return the commit sha."""
    ref = Ref(f"refs/heads/{branch}".encode())
    commit = Commit()
    commit.tree = write_tree(repo, files)
    commit.parents = [repo.refs[ref]] if ref in repo.refs else []
    commit.author = commit.committer = b"Config Admin <admin@example.com>"
    commit.author_time = commit.commit_time = int(time.time())
    commit.author_timezone = commit.commit_timezone = 0
    commit.encoding = b"UTF-8"
    commit.message = message.encode()
    repo.object_store.add_object(commit)
    repo.refs[ref] = commit.id
    return commit.id.decode()


def tag_commit(repo: Repo, name: str, sha: str) -> str:
    """Create an annotated tag refs/tags/<name> and return the tag object's sha."""
    tag = Tag()
    tag.tagger = b"Config Admin <admin@example.com>"
    tag.message = b"Release"
    tag.name = name.encode()
    tag.object = (Commit, ObjectID(sha.encode()))
    tag.tag_time = int(time.time())
    tag.tag_timezone = 0
    repo.object_store.add_object(tag)
    repo.refs[Ref(f"refs/tags/{name}".encode())] = tag.id
    return tag.id.decode()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def basic_auth(
    app: Callable[..., Any], username: str, password: str
) -> Callable[..., Any]:
    """Wrap a WSGI app so that it requires HTTP basic authentication."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()

    def guarded(
        environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != f"Basic {token}":
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Basic realm="git"'), ("Content-Length", "0")],
            )
            return [b""]
        return app(environ, start_response)

    return guarded


@contextmanager
def https_git_server(
    repo: Repo, tmp_path: Path, username: str, password: str
) -> Iterator[tuple[str, str]]:
    """Serve `repo` as https://127.0.0.1:<port>/config.git; yield (url, CA bundle path)."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    ca_bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_bundle))

    app = basic_auth(
        make_wsgi_chain(DictBackend({"/config.git": cast(BackendRepo, repo)})),
        username,
        password,
    )
    server = make_server(
        "127.0.0.1", 0, app, server_class=WSGIServer, handler_class=_QuietHandler
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/config.git", str(ca_bundle)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
