"""Options and helpers that the imagefactory commands share."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.config import ArtifactCatalog, ArtifactCatalogError
from shared.migrate import LegacyOptions

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_STATE_UNREADABLE = 3


class UsageError(Exception):
    """A command line that cannot run: the message names the value and the fix."""


def add_catalog_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--catalog",
        metavar="DIR",
        type=Path,
        help="artifact repository to check artifacts against: a folder with one "
        "<artifact>/artifactfile.json per artifact (default: the copy of the "
        "DevTest Labs public repository that ships with the factory)",
    )


def add_legacy_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "configuration in the PowerShell image factory's layout "
        "(Labs.json and GoldenImages/)"
    )
    group.add_argument(
        "--factory-lab",
        metavar="ID",
        help="resource id of the factory lab, for a repository without factory.yaml",
    )
    group.add_argument(
        "--map-lab",
        metavar="LABNAME=ID",
        action="append",
        default=[],
        help="use the lab resource ID for the Labs.json entry with this LabName, "
        "in place of its SubscriptionId, ResourceGroup and LabName (repeatable)",
    )
    group.add_argument(
        "--lab-map",
        metavar="FILE",
        type=Path,
        help="JSON file that maps LabName values of Labs.json to lab resource ids",
    )


def config_directory(value: str) -> Path:
    """Return DIR as a path, or raise UsageError when it is not a folder."""
    path = Path(value)
    if not path.is_dir():
        raise UsageError(
            f"'{value}' is not a folder. Pass the root of a configuration "
            "repository: the folder with factory.yaml and labs.yaml, or with "
            "Labs.json and GoldenImages/."
        )
    return path


def load_catalog(args: argparse.Namespace) -> ArtifactCatalog:
    try:
        if args.catalog is None:
            return ArtifactCatalog.bundled()
        return ArtifactCatalog.from_directory(args.catalog)
    except ArtifactCatalogError as exc:
        raise UsageError(f"--catalog: {exc}") from exc


def legacy_options(args: argparse.Namespace) -> LegacyOptions:
    """Return the options for a repository in the PowerShell factory's layout."""
    lab_map: dict[str, str] = {}
    if args.lab_map is not None:
        lab_map.update(_read_lab_map(args.lab_map))
    for item in args.map_lab:
        name, separator, lab_id = item.rpartition("=/")
        if not separator or not name:
            raise UsageError(
                f"--map-lab '{item}' is not LABNAME=ID. Write the LabName of "
                "Labs.json, '=', and the lab's resource id, such as "
                "'MyLab=/subscriptions/<id>/resourceGroups/<group>/providers/"
                "Microsoft.DevTestLab/labs/MyLab'."
            )
        lab_map[name] = "/" + lab_id
    return LegacyOptions(factory_lab=args.factory_lab, lab_map=lab_map)


def _read_lab_map(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--lab-map: cannot read '{path}': {exc}.") from exc
    if not isinstance(data, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in data.items()
    ):
        raise UsageError(
            f"--lab-map: '{path}' must hold a JSON object of LabName to lab "
            'resource id, such as {"MyLab": "/subscriptions/..."}.'
        )
    return data
