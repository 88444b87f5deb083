"""imagefactory migrate: convert a PowerShell image factory repository to this format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from shared.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    UsageError,
    add_catalog_option,
    add_legacy_options,
    config_directory,
    legacy_options,
    load_catalog,
)
from shared.cli.report import count, write_issues
from shared.config import limits
from shared.config.issues import IssueCollector
from shared.config.repo_files import read_directory
from shared.migrate import convert_legacy, detect_layout, validate_conversion


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "migrate",
        help="convert a repository of the PowerShell image factory",
        description="Read Labs.json and the ARM templates below GoldenImages/ of "
        "OLD_DIR (at its root or in Configuration/), and write factory.yaml, "
        "labs.yaml and one images/<name>.yaml per template to NEW_DIR. Writes "
        "nothing when the conversion has errors. Exit status: 0 converted, "
        "1 errors, 2 usage error.",
    )
    parser.add_argument("old_directory", metavar="OLD_DIR")
    parser.add_argument("new_directory", metavar="NEW_DIR")
    add_catalog_option(parser)
    add_legacy_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    old = config_directory(args.old_directory)
    new = Path(args.new_directory)
    if new.exists() and (not new.is_dir() or any(new.iterdir())):
        raise UsageError(
            f"'{new}' exists and is not an empty folder. Pass a new folder, so "
            "that no file is overwritten."
        )
    catalog = load_catalog(args)
    issues = IssueCollector()
    files = read_directory(old.resolve(), issues)
    layout = detect_layout(files)
    if layout is None:
        raise UsageError(
            f"'{old}' has no Labs.json or GoldenImages/ of the PowerShell image "
            f"factory{_new_format_hint(files)}. Pass the folder that holds them."
        )
    conversion = convert_legacy(files, layout, legacy_options(args), issues)
    config, found = validate_conversion(conversion, catalog)
    issues.issues.extend(found)
    write_issues(issues.sorted(), "text", old, sys.stdout)
    if issues.error_count or config is None:
        sys.stdout.write(
            f"not converted: {issues.error_count} errors. Fix them, or supply what "
            "the old layout lacks with --factory-lab and --map-lab, and run "
            "migrate again. Nothing was written.\n"
        )
        return EXIT_INVALID
    for path, data in sorted(conversion.files.items()):
        target = new / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    sys.stdout.write(
        f"converted {count(len(config.images), 'image')} and "
        f"{count(len(config.labs), 'team lab')} into {new}. Check it with: "
        f"imagefactory validate {new}\n"
    )
    return EXIT_OK


def _new_format_hint(files: dict[str, bytes]) -> str:
    if limits.LABS_FILE in files:
        return " (it has labs.yaml, so it is in this factory's format already)"
    return ""
