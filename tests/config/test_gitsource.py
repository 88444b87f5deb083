"""Fetching the configuration from git repositories made with dulwich."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.objects import Blob
from dulwich.repo import Repo

from shared.config import ConfigError, load_config_files
from shared.config.limits import MAX_FILE_BYTES, MAX_IMAGE_FILES
from shared.gitsource import ConfigSourceError, fetch_config, redact_url

from .gitrepos import (
    GITLINK_MODE,
    SYMLINK_MODE,
    Entry,
    commit_files,
    https_git_server,
    init_repo,
    tag_commit,
)
from .helpers import LINUX_IMAGE_YAML, example_files, find_issue, minimal_files

PASSWORD = "s3cret-token"


def config_entries(**changes: Entry | None) -> dict[str, Entry]:
    files: dict[str, Entry] = dict(minimal_files())
    for path, entry in changes.items():
        if entry is None:
            files.pop(path, None)
        else:
            files[path] = entry
    return files


@pytest.fixture
def worktree_repo(tmp_path: Path) -> Iterator[Repo]:
    repo = init_repo(tmp_path / "config", bare=False)
    yield repo
    repo.close()


@pytest.fixture
def bare_repo(tmp_path: Path) -> Iterator[Repo]:
    repo = init_repo(tmp_path / "config.git", bare=True)
    yield repo
    repo.close()


def test_fetch_branch_from_worktree_repo(worktree_repo: Repo) -> None:
    files = dict(example_files())
    sha = commit_files(worktree_repo, dict(files))

    snapshot = fetch_config(worktree_repo.path, "main")

    assert snapshot.commit == sha
    assert "README.md" not in snapshot.files
    assert snapshot.files == {
        path: data for path, data in files.items() if path != "README.md"
    }
    assert len(load_config_files(snapshot.files).images) == 6


@pytest.mark.parametrize("ref", ["main", "refs/heads/main", "HEAD"])
def test_fetch_ref_forms(bare_repo: Repo, ref: str) -> None:
    sha = commit_files(bare_repo, config_entries())

    assert fetch_config(bare_repo.path, ref).commit == sha


def test_fetch_sha_of_older_commit(bare_repo: Repo) -> None:
    first = commit_files(bare_repo, config_entries())
    commit_files(bare_repo, config_entries(**{"images/linux/base.yaml": None}))

    snapshot = fetch_config(bare_repo.path, first)

    assert snapshot.commit == first
    assert "images/linux/base.yaml" in snapshot.files


def test_fetch_uppercase_sha(bare_repo: Repo) -> None:
    sha = commit_files(bare_repo, config_entries())

    assert fetch_config(bare_repo.path, sha.upper()).commit == sha


def test_fetch_other_branch(bare_repo: Repo) -> None:
    commit_files(bare_repo, config_entries())
    dev = commit_files(
        bare_repo,
        config_entries(**{"images/linux/dev.yaml": LINUX_IMAGE_YAML.encode()}),
        branch="dev",
    )

    snapshot = fetch_config(bare_repo.path, "dev")

    assert snapshot.commit == dev
    assert "images/linux/dev.yaml" in snapshot.files


def test_fetch_annotated_tag_peels_to_commit(bare_repo: Repo) -> None:
    sha = commit_files(bare_repo, config_entries())
    tag = tag_commit(bare_repo, "v1", sha)

    assert fetch_config(bare_repo.path, "refs/tags/v1").commit == sha
    assert fetch_config(bare_repo.path, tag).commit == sha


def test_fetch_file_url(bare_repo: Repo) -> None:
    sha = commit_files(bare_repo, config_entries())

    assert fetch_config(f"file://{bare_repo.path}", "main").commit == sha


def test_fetch_missing_branch(bare_repo: Repo) -> None:
    commit_files(bare_repo, config_entries())
    commit_files(bare_repo, config_entries(), branch="dev")

    with pytest.raises(ConfigSourceError) as caught:
        fetch_config(bare_repo.path, "release")

    assert str(caught.value) == (
        f"ref 'release' not found in {bare_repo.path}. Branches: dev, main. "
        "Pass an existing branch or a commit sha."
    )
    assert caught.value.ref == "release"
    assert caught.value.repo == bare_repo.path
    assert caught.value.retryable is False


def test_fetch_missing_sha(bare_repo: Repo) -> None:
    commit_files(bare_repo, config_entries())

    with pytest.raises(ConfigSourceError) as caught:
        fetch_config(bare_repo.path, "a" * 40)

    assert f"commit {'a' * 40} not found in {bare_repo.path}" in str(caught.value)


def test_fetch_sha_of_blob(bare_repo: Repo) -> None:
    commit_files(bare_repo, config_entries())
    blob = Blob.from_string(b"not a commit\n")
    bare_repo.object_store.add_object(blob)

    with pytest.raises(ConfigSourceError) as caught:
        fetch_config(bare_repo.path, blob.id.decode())

    assert "names a blob, not a commit" in str(caught.value)


def test_fetch_missing_repo(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent")

    with pytest.raises(ConfigSourceError) as caught:
        fetch_config(missing, "main")

    assert str(caught.value) == (
        f"repository {missing} not found. Check the path of the configuration repository."
    )
    assert caught.value.retryable is False


def test_fetch_not_a_repo(tmp_path: Path) -> None:
    with pytest.raises(ConfigSourceError, match="is not a git repository"):
        fetch_config(str(tmp_path), "main")


def test_fetch_empty_ref(bare_repo: Repo) -> None:
    with pytest.raises(ConfigSourceError, match="no ref given"):
        fetch_config(bare_repo.path, " ")


@pytest.mark.parametrize(
    "url, message",
    [
        ("ssh://git@example.com/config.git", "unsupported repository URL"),
        ("http://user:pw@127.0.0.1:9/config.git", "rejected plain-http repository URL"),
    ],
)
def test_fetch_rejects_url_schemes(url: str, message: str) -> None:
    with pytest.raises(ConfigSourceError) as caught:
        fetch_config(url, "main")

    assert message in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_fetch_reads_only_config_files(bare_repo: Repo) -> None:
    commit_files(
        bare_repo,
        config_entries(
            **{
                "README.md": b"# config\n",
                "docs/notes.yaml": b"a: b\n",
                "images/README.md": b"# images\n",
                "images/.drafts/x.yaml": b"draft\n",
                "images/linux/old.yml": b"os_type: Linux\n",
            }
        ),
    )

    snapshot = fetch_config(bare_repo.path, "main")

    assert sorted(snapshot.files) == [
        "factory.yaml",
        "images/linux/base.yaml",
        "images/linux/old.yml",
        "images/windows/base.yaml",
        "labs.yaml",
    ]


def test_fetch_symlink_inside_followed(bare_repo: Repo) -> None:
    commit_files(
        bare_repo,
        config_entries(**{"images/linux/alias.yaml": (SYMLINK_MODE, b"base.yaml")}),
    )

    snapshot = fetch_config(bare_repo.path, "main")

    assert snapshot.files["images/linux/alias.yaml"] == LINUX_IMAGE_YAML.encode()


@pytest.mark.parametrize(
    "target", [b"../../../etc/passwd", b"/etc/passwd", b"../../.."]
)
def test_fetch_symlink_leaving_repo_rejected(bare_repo: Repo, target: bytes) -> None:
    commit_files(
        bare_repo, config_entries(**{"images/linux/leak.yaml": (SYMLINK_MODE, target)})
    )

    with pytest.raises(ConfigError) as caught:
        fetch_config(bare_repo.path, "main")
    issue = find_issue(caught.value.errors, "")

    assert issue.file == "images/linux/leak.yaml"
    assert "points outside the repository" in issue.message


def test_fetch_symlink_to_folder_rejected(bare_repo: Repo) -> None:
    commit_files(bare_repo, config_entries(**{"labs.yaml": (SYMLINK_MODE, b"images")}))

    with pytest.raises(ConfigError) as caught:
        fetch_config(bare_repo.path, "main")

    assert "does not point to a file" in find_issue(caught.value.errors, "").message


def test_fetch_submodule_rejected(bare_repo: Repo) -> None:
    commit_files(
        bare_repo, config_entries(**{"images/vendor": (GITLINK_MODE, b"b" * 40)})
    )

    with pytest.raises(ConfigError) as caught:
        fetch_config(bare_repo.path, "main")
    issue = find_issue(caught.value.errors, "")

    assert issue.file == "images/vendor"
    assert "submodules are not read" in issue.message


def test_fetch_oversized_file_reported_by_loader(bare_repo: Repo) -> None:
    commit_files(
        bare_repo, config_entries(**{"labs.yaml": b"#" * (MAX_FILE_BYTES + 1)})
    )

    snapshot = fetch_config(bare_repo.path, "main")
    with pytest.raises(ConfigError) as caught:
        load_config_files(snapshot.files)

    assert "labs.yaml: file is larger than 256 KiB." in str(caught.value)


def test_fetch_stops_after_image_limit(bare_repo: Repo) -> None:
    extra: dict[str, Entry | None] = {
        f"images/bulk/i{index:04}.yaml": b"os_type: Linux\n"
        for index in range(MAX_IMAGE_FILES + 50)
    }
    commit_files(bare_repo, config_entries(**extra))

    snapshot = fetch_config(bare_repo.path, "main")
    image_files = [path for path in snapshot.files if path.startswith("images/")]

    assert len(image_files) == MAX_IMAGE_FILES + 1
    with pytest.raises(ConfigError, match=f"more than {MAX_IMAGE_FILES} image files"):
        load_config_files(snapshot.files)


@pytest.mark.parametrize(
    "url, expected",
    [
        (
            "https://x-access-token:abc@github.com/o/r.git",
            "https://x-access-token:***@github.com/o/r.git",
        ),
        ("https://ghp_token@github.com/o/r.git", "https://***@github.com/o/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://u:p@host:8443/r?x=1#frag", "https://u:***@host:8443/r?x=1"),
        ("/srv/git/config.git", "/srv/git/config.git"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_fetch_https_branch_and_sha(
    bare_repo: Repo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = commit_files(bare_repo, config_entries())
    second = commit_files(bare_repo, config_entries(**{"images/linux/base.yaml": None}))
    caplog.set_level(logging.DEBUG)

    with https_git_server(bare_repo, tmp_path, "x-access-token", PASSWORD) as (
        url,
        ca_bundle,
    ):
        authenticated = url.replace("https://", f"https://x-access-token:{PASSWORD}@")
        head = fetch_config(authenticated, "main", ca_bundle=ca_bundle)
        older = fetch_config(authenticated, first, ca_bundle=ca_bundle)

    assert head.commit == second
    assert "images/linux/base.yaml" not in head.files
    assert older.commit == first
    assert older.files == minimal_files()
    assert PASSWORD not in caplog.text
    assert "x-access-token:***@127.0.0.1" in caplog.text


def test_fetch_https_cache_dir_reused(bare_repo: Repo, tmp_path: Path) -> None:
    commit_files(bare_repo, config_entries())
    cache = tmp_path / "cache"

    with https_git_server(bare_repo, tmp_path, "user", PASSWORD) as (url, ca_bundle):
        authenticated = url.replace("https://", f"https://user:{PASSWORD}@")
        fetch_config(authenticated, "main", ca_bundle=ca_bundle, cache_dir=cache)
        newer = commit_files(
            bare_repo, config_entries(**{"images/windows/base.yaml": None})
        )
        snapshot = fetch_config(
            authenticated, "main", ca_bundle=ca_bundle, cache_dir=cache
        )

    assert snapshot.commit == newer
    assert len(list(cache.iterdir())) == 1


def test_fetch_https_wrong_password(
    bare_repo: Repo, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    commit_files(bare_repo, config_entries())
    caplog.set_level(logging.DEBUG)

    with https_git_server(bare_repo, tmp_path, "user", PASSWORD) as (url, ca_bundle):
        wrong = url.replace("https://", "https://user:wrong-password@")
        with pytest.raises(ConfigSourceError) as caught:
            fetch_config(wrong, "main", ca_bundle=ca_bundle)

    message = str(caught.value)
    assert message.startswith("authentication to https://user:***@127.0.0.1:")
    assert "wrong-password" not in message
    assert "wrong-password" not in caplog.text
    assert caught.value.retryable is False


def test_fetch_https_missing_branch(bare_repo: Repo, tmp_path: Path) -> None:
    commit_files(bare_repo, config_entries())

    with https_git_server(bare_repo, tmp_path, "user", PASSWORD) as (url, ca_bundle):
        authenticated = url.replace("https://", f"https://user:{PASSWORD}@")
        with pytest.raises(ConfigSourceError) as caught:
            fetch_config(authenticated, "release", ca_bundle=ca_bundle)

    assert "ref 'release' not found" in str(caught.value)
    assert "Branches: main." in str(caught.value)
    assert PASSWORD not in str(caught.value)


def test_fetch_https_untrusted_certificate(bare_repo: Repo, tmp_path: Path) -> None:
    commit_files(bare_repo, config_entries())

    with https_git_server(bare_repo, tmp_path, "user", PASSWORD) as (url, _):
        authenticated = url.replace("https://", f"https://user:{PASSWORD}@")
        with pytest.raises(ConfigSourceError) as caught:
            fetch_config(authenticated, "main", timeout=5)

    assert "is not trusted" in str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert caught.value.retryable is False


def test_fetch_https_unreachable_is_retryable(tmp_path: Path) -> None:
    with pytest.raises(ConfigSourceError) as caught:
        fetch_config(
            f"https://user:{PASSWORD}@127.0.0.1:1/config.git", "main", timeout=2
        )

    assert caught.value.retryable is True
    assert PASSWORD not in str(caught.value)
    assert "https://user:***@127.0.0.1:1/config.git" in str(caught.value)
