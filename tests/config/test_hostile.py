"""Hostile input: YAML bombs, oversized and invalid files, unsafe paths and links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared.config import ConfigError, load_config_dir, load_config_files
from shared.config.limits import MAX_FILE_BYTES, MAX_IMAGE_FILES, MAX_YAML_DEPTH

from .helpers import LINUX_IMAGE_YAML, find_issue, load_errors, minimal_files

BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]
"""


def image_error(content: str | bytes) -> str:
    """Return the one error of a repository whose linux/base image has `content`."""
    errors = load_errors(minimal_files({"images/linux/base.yaml": content}))
    issue = find_issue(errors, "")
    assert issue.file == "images/linux/base.yaml"
    return str(issue)


def test_hostile_alias_bomb_rejected() -> None:
    assert image_error(BILLION_LAUGHS) == (
        "images/linux/base.yaml:1:4: YAML anchors ('&a') are not supported. "
        "Remove the anchor and write repeated values out in full."
    )


def test_hostile_alias_without_anchor_rejected() -> None:
    message = image_error(LINUX_IMAGE_YAML + "vm_size: *size\n")

    assert ":12:10: YAML aliases ('*size') are not supported." in message


def test_hostile_merge_key_rejected() -> None:
    message = image_error("base: &b {gallery: {}}\nother:\n  <<: *b\n")

    assert "YAML anchors ('&b') are not supported" in message


@pytest.mark.parametrize(
    "tag",
    ["!!python/object/apply:os.system", "!!binary", "!custom", "!!str"],
)
def test_hostile_tags_rejected(tag: str) -> None:
    message = image_error(f"os_type: {tag} Linux\n")

    assert f"1:10: YAML tags ('{tag.replace('!!', 'tag:yaml.org,2002:')}')" in message


def test_hostile_deep_nesting_rejected() -> None:
    depth = MAX_YAML_DEPTH + 5
    message = image_error("x: " + "[" * depth + "]" * depth + "\n")

    assert f"nesting is deeper than {MAX_YAML_DEPTH} levels" in message


def test_hostile_very_deep_nesting_no_recursion_error() -> None:
    depth = 20000
    message = image_error("[" * depth + "]" * depth)

    assert "nesting is deeper than" in message


def test_hostile_multiple_documents_rejected() -> None:
    message = image_error(LINUX_IMAGE_YAML + "---\nos_type: Windows\n")

    assert message == (
        "images/linux/base.yaml:12:1: invalid YAML: expected a single document in "
        "the stream, but found another document. "
        "Check the indentation and quoting at this position."
    )


def test_hostile_oversized_file_rejected() -> None:
    padding = "# " + "x" * 100 + "\n"
    content = LINUX_IMAGE_YAML + padding * (MAX_FILE_BYTES // len(padding) + 1)

    assert image_error(content) == (
        "images/linux/base.yaml: file is larger than 256 KiB. "
        "Split it into smaller files or remove what is not configuration."
    )


def test_hostile_file_at_size_limit_accepted() -> None:
    padding = "#" * (MAX_FILE_BYTES - len(LINUX_IMAGE_YAML) - 1) + "\n"
    content = LINUX_IMAGE_YAML + padding
    assert len(content.encode()) == MAX_FILE_BYTES

    config = load_config_files(minimal_files({"images/linux/base.yaml": content}))

    assert "linux/base" in config.images


def test_hostile_oversized_factory_not_also_missing() -> None:
    content = "#" * (MAX_FILE_BYTES + 1)
    errors = load_errors(minimal_files({"factory.yaml": content}))

    assert [str(issue) for issue in errors] == [
        "factory.yaml: file is larger than 256 KiB. "
        "Split it into smaller files or remove what is not configuration."
    ]


def test_hostile_too_many_images_rejected() -> None:
    extra = {
        f"images/bulk/image{i}.yaml": LINUX_IMAGE_YAML for i in range(MAX_IMAGE_FILES)
    }
    errors = load_errors(minimal_files(extra))

    assert [str(issue) for issue in errors] == [
        f"images: more than {MAX_IMAGE_FILES} image files (found {MAX_IMAGE_FILES + 2}). "
        "Split the images over several factories."
    ]


def test_hostile_invalid_utf8_position() -> None:
    content = LINUX_IMAGE_YAML.encode().replace(b"Ubuntu with git", b"Ubuntu \xff git")

    assert image_error(content) == (
        "images/linux/base.yaml:1:21: invalid UTF-8 (byte 0xff at offset 20). "
        "Save the file as UTF-8."
    )


def test_hostile_utf16_rejected() -> None:
    message = image_error(LINUX_IMAGE_YAML.encode("utf-16"))

    assert "invalid UTF-8" in message


def test_hostile_utf8_bom_accepted() -> None:
    content = b"\xef\xbb\xbf" + LINUX_IMAGE_YAML.encode()

    config = load_config_files(minimal_files({"images/linux/base.yaml": content}))

    assert config.images["linux/base"].description == "Ubuntu with git"


def test_hostile_control_character_rejected() -> None:
    message = image_error(LINUX_IMAGE_YAML.replace("Ubuntu with git", "Ubuntu\x00"))

    assert message == (
        "images/linux/base.yaml:1:20: invalid YAML: character #x0000 is not allowed. "
        "Remove control characters from the file."
    )


@pytest.mark.parametrize(
    "path, problem",
    [
        ("images/../../etc/passwd.yaml", "has an empty, '.' or '..' segment"),
        ("images/./linux/base2.yaml", "has an empty, '.' or '..' segment"),
        ("images//linux/x.yaml", "has an empty, '.' or '..' segment"),
        ("/etc/factory.yaml", "absolute path '/etc/factory.yaml'"),
        ("C:/factory.yaml", "absolute path 'C:/factory.yaml'"),
        ("images\\linux\\x.yaml", "contains a backslash or NUL"),
        ("images/linux/x\x00.yaml", "contains a backslash or NUL"),
        ("", "empty file path"),
    ],
)
def test_hostile_paths_rejected(path: str, problem: str) -> None:
    errors = load_errors(minimal_files({path: LINUX_IMAGE_YAML}))
    messages = [issue.message for issue in errors]

    assert any(problem in message for message in messages), messages


def write_repo(root: Path, files: dict[str, bytes]) -> None:
    for path, data in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def test_hostile_dir_symlink_outside_rejected(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, minimal_files())
    secret = tmp_path / "secret.yaml"
    secret.write_text(LINUX_IMAGE_YAML)
    (repo / "images" / "linux" / "leak.yaml").symlink_to(secret)

    with pytest.raises(ConfigError) as caught:
        load_config_dir(repo)
    issue = find_issue(caught.value.errors, "")

    assert issue.file == "images/linux/leak.yaml"
    assert "symbolic link points outside the repository" in issue.message


def test_hostile_dir_symlinked_folder_outside_rejected(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, minimal_files())
    outside = tmp_path / "outside"
    write_repo(outside, {"x.yaml": LINUX_IMAGE_YAML.encode()})
    (repo / "images" / "more").symlink_to(outside, target_is_directory=True)

    with pytest.raises(ConfigError) as caught:
        load_config_dir(repo)

    assert find_issue(caught.value.errors, "").file == "images/more"


def test_hostile_dir_symlink_inside_accepted(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, minimal_files())
    (repo / "images" / "linux" / "alias.yaml").symlink_to(
        repo / "images" / "linux" / "base.yaml"
    )

    config = load_config_dir(repo)

    assert config.images["linux/alias"].base == config.images["linux/base"].base


def test_hostile_dir_symlink_loop_terminates(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, minimal_files())
    (repo / "images" / "linux" / "loop").symlink_to(
        repo / "images", target_is_directory=True
    )

    config = load_config_dir(repo)

    assert sorted(config.images) == ["linux/base", "windows/base"]


def test_hostile_dir_fifo_rejected(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(repo, minimal_files())
    os.mkfifo(repo / "images" / "linux" / "pipe.yaml")

    with pytest.raises(ConfigError) as caught:
        load_config_dir(repo)
    issue = find_issue(caught.value.errors, "")

    assert issue.file == "images/linux/pipe.yaml"
    assert "not a regular file" in issue.message


def test_hostile_dir_oversized_read_stops(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_repo(
        repo, minimal_files({"images/linux/base.yaml": b"#" * (4 * MAX_FILE_BYTES)})
    )

    with pytest.raises(ConfigError) as caught:
        load_config_dir(repo)

    assert "larger than 256 KiB" in find_issue(caught.value.errors, "").message


def test_hostile_dir_missing_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_dir(tmp_path / "absent")

    assert "cannot read the configuration directory" in caught.value.errors[0].message


def test_hostile_huge_integer_rejected_cleanly() -> None:
    image = minimal_files()["images/linux/base.yaml"] + b"refresh_days: " + b"9" * 5000
    errors = load_errors(minimal_files({"images/linux/base.yaml": image}))
    issue = find_issue(errors, "refresh_days")

    assert "expected a whole number from 1 to 365, got a string" in issue.message
