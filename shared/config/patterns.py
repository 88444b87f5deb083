"""Image name patterns of team lab subscriptions.

Rules:
- `*` matches any characters within one path segment, `?` matches one
  character other than "/", and `**` matches across segments (`linux/**`
  matches every image below linux/, `**/base` matches "base" in any folder).
- A pattern without wildcards matches the image of that name and every image
  below the folder of that name ("windows" matches "windows/vs2022").
- A pattern ending in "/" matches every image below the folders it matches
  ("windows/", "team-*/").
- Every other character matches itself.
"""

from __future__ import annotations

import functools
import re

_WILDCARDS = ("*", "?")
# Lowercase letters, digits, "-", "_", "/" and the wildcards; image names use
# the same characters (see the image name rules).
_PATTERN_RE = re.compile(r"[a-z0-9_*?-]+(/[a-z0-9_*?-]+)*/?")


def pattern_problem(pattern: str) -> str | None:
    """Return why a pattern is invalid, or None when it is valid."""
    if not pattern:
        return (
            "pattern is empty. Use an image name, a folder or a glob such as 'linux/*'."
        )
    if pattern.startswith("/"):
        return (
            f"pattern '{pattern}' starts with '/'. Image names are relative to "
            "images/, so write it without the leading '/'."
        )
    if ".." in pattern.split("/"):
        return f"pattern '{pattern}' contains '..'. Name images below images/ only."
    if not _PATTERN_RE.fullmatch(pattern):
        return (
            f"invalid pattern '{pattern}'. Patterns use lowercase letters, digits, "
            "'-', '_', '/' segments and the wildcards '*', '**' and '?'."
        )
    return None


def pattern_matches(pattern: str, image_name: str) -> bool:
    """Return whether a subscription pattern selects an image (see the module rules)."""
    names_folder = pattern.endswith("/")
    body = pattern.rstrip("/")
    if not body:
        return False
    regex = _compile(body)

    if not names_folder and regex.fullmatch(image_name):
        return True
    if names_folder or not any(wildcard in body for wildcard in _WILDCARDS):
        return any(regex.fullmatch(folder) for folder in _folders_of(image_name))
    return False


def _folders_of(image_name: str) -> list[str]:
    segments = image_name.split("/")[:-1]
    return ["/".join(segments[: count + 1]) for count in range(len(segments))]


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            parts.append("(?:[^/]+/)*")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif char == "*":
            parts.append("[^/]*")
            index += 1
        elif char == "?":
            parts.append("[^/]")
            index += 1
        else:
            parts.append(re.escape(char))
            index += 1
    return re.compile("".join(parts))
