"""imagefactory validate: check a configuration repository and report every problem."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    add_catalog_option,
    add_legacy_options,
    config_directory,
    legacy_options,
    load_catalog,
)
from shared.cli.report import FORMATS, count, issue_to_json, write_issues
from shared.config import ConfigError, FactoryConfig, limits, load_config_dir


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "validate",
        help="check a configuration repository",
        description="Check a configuration repository and list every error and "
        "warning with its file, line and column. Exit status: 0 valid, 1 invalid, "
        "2 usage error.",
    )
    parser.add_argument("directory", metavar="DIR", help="root of the repository")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="text (default), json, or annotations for GitHub Actions (github) "
        "or Azure Pipelines (azure)",
    )
    add_catalog_option(parser)
    add_legacy_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    root = config_directory(args.directory)
    catalog = load_catalog(args)
    try:
        config = load_config_dir(root, catalog, legacy_options(args))
    except ConfigError as exc:
        _report(args, None, exc.issues)
        return EXIT_INVALID
    _report(args, config, config.warnings)
    return EXIT_OK


def _report(
    args: argparse.Namespace, config: FactoryConfig | None, issues: list[Any]
) -> None:
    out = sys.stdout
    if args.format == "json":
        json.dump(_json_report(args, config, issues), out, indent=2)
        out.write("\n")
        return
    write_issues(issues, args.format, config_directory(args.directory), out)
    errors = sum(1 for issue in issues if issue.severity == "error")
    warnings = len(issues) - errors
    if config is None:
        out.write(
            f"invalid configuration: {count(errors, 'error')}, "
            f"{count(warnings, 'warning')}. Fix the errors and validate again.\n"
        )
    else:
        out.write(
            f"valid configuration: {count(len(config.images), 'image')}, "
            f"{count(len(config.labs), 'team lab')}, {count(warnings, 'warning')}.\n"
        )


def _json_report(
    args: argparse.Namespace, config: FactoryConfig | None, issues: list[Any]
) -> dict[str, Any]:
    root = config_directory(args.directory)
    layout = "powershell-factory" if _is_legacy(root) else "imagefactory"
    return {
        "valid": config is not None,
        "directory": str(root),
        "layout": layout,
        "errors": [issue_to_json(i) for i in issues if i.severity == "error"],
        "warnings": [issue_to_json(i) for i in issues if i.severity != "error"],
        "images": sorted(config.images) if config else [],
        "labs": [lab.name for lab in config.labs] if config else [],
    }


def _is_legacy(root: Path) -> bool:
    """Return whether the loader reads `root` in the PowerShell factory's layout."""
    if (root / limits.LABS_FILE).exists():
        return False
    return any(
        (root / prefix / limits.LEGACY_LABS_FILE).exists()
        or (root / prefix / limits.LEGACY_IMAGES_DIR).is_dir()
        for prefix in limits.LEGACY_ROOTS
    )
