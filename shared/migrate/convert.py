"""Convert a repository laid out for the PowerShell image factory into the new format.

The result is the files of a configuration repository (factory.yaml,
labs.yaml and images/**/*.yaml) with a source map per file, so that the
ordinary validator checks it and its issues point back at Labs.json and the
templates. The loader converts in memory when it finds the old layout;
``imagefactory migrate`` writes the same files to disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from shared.config import limits
from shared.config.issues import IssueCollector
from shared.config.repo_files import path_problem
from shared.config.resource_ids import parse_resource_id
from shared.migrate.jsonnodes import JsonNode, JsonRejected, parse_json
from shared.migrate.labsfile import ImagePath, LegacyLab, read_labs_file
from shared.migrate.sources import SourceMap
from shared.migrate.templates import convert_template

_NAME_CHARACTERS_RE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class LegacyLayout:
    """The location of the PowerShell factory's files: the root or Configuration/."""

    root: str

    @property
    def labs_file(self) -> str:
        return self.root + limits.LEGACY_LABS_FILE

    @property
    def images_dir(self) -> str:
        return self.root + limits.LEGACY_IMAGES_DIR


@dataclass(frozen=True)
class LegacyOptions:
    """Settings that the old layout lacks: the factory lab, and real ids of its labs.

    `factory_lab` is the resource id of the factory lab, for a repository
    without factory.yaml. `lab_map` maps a LabName of Labs.json to the
    resource id of the lab, in place of its SubscriptionId, ResourceGroup
    and LabName.
    """

    factory_lab: str | None = None
    lab_map: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Conversion:
    """The converted files, and for each a map back to the file it came from."""

    files: dict[str, bytes] = field(default_factory=dict)
    sources: dict[str, SourceMap] = field(default_factory=dict)


def detect_layout(files: Mapping[str, bytes]) -> LegacyLayout | None:
    """Return the old layout when the files use it and have no labs.yaml."""
    if limits.LABS_FILE in files:
        return None
    for root in limits.LEGACY_ROOTS:
        if root + limits.LEGACY_LABS_FILE in files:
            return LegacyLayout(root)
    for root in limits.LEGACY_ROOTS:
        prefix = root + limits.LEGACY_IMAGES_DIR + "/"
        if any(path.startswith(prefix) for path in files):
            return LegacyLayout(root)
    return None


def image_name_of(relative: str) -> str:
    """Return the image name of a template path below GoldenImages/.

    Folders are kept. Each segment is lowercased and every run of characters
    other than letters, digits, "-" and "_" becomes "-":
    "Win2016/SQLServer 2016 Express.json" is "win2016/sqlserver-2016-express".
    """
    stem = relative[: -len(limits.LEGACY_IMAGE_SUFFIX)]
    return "/".join(_name_segment(segment) for segment in stem.split("/"))


def pattern_of(image_path: str) -> str:
    """Return the labs.yaml pattern of an ImagePaths entry.

    A path to a ".json" template names that image. Any other path names a
    folder, and the pattern ends in "/" to select every image below it. An
    empty path selects all images.
    """
    path = image_path.replace("\\", "/").strip().strip("/")
    path = path.removeprefix("./")
    if path in ("", "."):
        return "**"
    if path.lower().endswith(limits.LEGACY_IMAGE_SUFFIX):
        return image_name_of(path)
    return "/".join(_name_segment(segment) for segment in path.split("/")) + "/"


def _name_segment(segment: str) -> str:
    return _NAME_CHARACTERS_RE.sub("-", segment.lower()).strip("-_")


def convert_legacy(
    files: Mapping[str, bytes],
    layout: LegacyLayout,
    options: LegacyOptions,
    issues: IssueCollector,
) -> Conversion:
    """Convert the old layout, reporting its problems with their original places."""
    conversion = Conversion()
    factory_lab = _factory_file(files, options, conversion, issues)
    labs = _labs(files, layout, options, issues)
    lab_name = factory_lab.rsplit("/", 1)[-1] if factory_lab else "lab"
    _templates(files, layout, lab_name, conversion, issues)
    # A lab with errors is reported already; leaving labs.yaml out spares
    # the warnings that its images then have no team lab.
    if labs is not None and all(lab.valid for lab in labs):
        _labs_file(labs, layout.labs_file, conversion)
    return conversion


def _factory_file(
    files: Mapping[str, bytes],
    options: LegacyOptions,
    conversion: Conversion,
    issues: IssueCollector,
) -> str | None:
    """Take factory.yaml as it is, or write one for options.factory_lab."""
    existing = files.get(limits.FACTORY_FILE)
    if existing is not None and options.factory_lab:
        issues.add_position(
            limits.FACTORY_FILE,
            None,
            None,
            "",
            "factory.yaml names the factory lab, and so does the --factory-lab "
            "option. Remove the option or the file.",
        )
    if existing is not None:
        conversion.files[limits.FACTORY_FILE] = existing
        return None
    if not options.factory_lab:
        issues.add_position(
            limits.FACTORY_FILE,
            None,
            None,
            "",
            "the PowerShell factory's layout does not name the factory lab. Add "
            "factory.yaml with 'factory: {lab: <resource id of the factory lab>}' "
            "at the repository root, or pass --factory-lab <resource id>.",
        )
        return None
    try:
        lab_id = parse_resource_id(options.factory_lab).id
    except ValueError as exc:
        issues.add_position(
            limits.FACTORY_FILE, None, None, "", f"--factory-lab: {exc}"
        )
        return None
    text = "# The lab that builds the images.\n" + yaml.safe_dump(
        {"factory": {"lab": lab_id}}, sort_keys=False
    )
    conversion.files[limits.FACTORY_FILE] = text.encode("utf-8")
    return lab_id


def _labs(
    files: Mapping[str, bytes],
    layout: LegacyLayout,
    options: LegacyOptions,
    issues: IssueCollector,
) -> list[LegacyLab] | None:
    root = _parse(files, layout.labs_file, issues, required=True)
    if root is None:
        return None
    return read_labs_file(layout.labs_file, root, options.lab_map, issues)


def _parse(
    files: Mapping[str, bytes], path: str, issues: IssueCollector, required: bool
) -> JsonNode | None:
    data = files.get(path)
    if data is None:
        if required:
            issues.add_position(
                path,
                None,
                None,
                "",
                f"{path} is missing. Add it with the labs and their ImagePaths.",
            )
        return None
    if len(data) > limits.MAX_FILE_BYTES:
        issues.add_position(
            path,
            None,
            None,
            "",
            f"file is larger than {limits.MAX_FILE_BYTES // 1024} KiB. Split it "
            "into smaller files or remove what is not configuration.",
        )
        return None
    try:
        return parse_json(data)
    except JsonRejected as exc:
        issues.add_position(path, exc.line, exc.column, "", exc.message)
        return None


def _templates(
    files: Mapping[str, bytes],
    layout: LegacyLayout,
    lab_name: str,
    conversion: Conversion,
    issues: IssueCollector,
) -> None:
    """Convert every template below GoldenImages/ into an image file."""
    prefix = layout.images_dir + "/"
    paths = sorted(
        path
        for path in files
        if path.startswith(prefix)
        and path.lower().endswith(limits.LEGACY_IMAGE_SUFFIX)
        and not any(segment.startswith(".") for segment in path.split("/"))
    )
    if len(paths) > limits.MAX_IMAGE_FILES:
        issues.add_position(
            layout.images_dir,
            None,
            None,
            "",
            f"more than {limits.MAX_IMAGE_FILES} templates (found {len(paths)}). "
            "Split the images over several factories.",
        )
        return
    owners: dict[str, str] = {}
    for path in paths:
        name = _template_name(path, prefix, owners, issues)
        if name is None:
            continue
        root = _parse(files, path, issues, required=True)
        if root is None:
            continue
        converted = convert_template(path, root, lab_name, issues)
        if converted is None:
            continue
        target = f"{limits.IMAGES_DIR}/{name}{limits.IMAGE_SUFFIX}"
        header = f"# Converted from {path}\n"
        body = yaml.safe_dump(converted.document, sort_keys=False, allow_unicode=True)
        conversion.files[target] = (header + body).encode("utf-8")
        conversion.sources[target] = converted.source


def _template_name(
    path: str, prefix: str, owners: dict[str, str], issues: IssueCollector
) -> str | None:
    problem = path_problem(path)
    name = image_name_of(path[len(prefix) :])
    if problem is None and "" in name.split("/"):
        problem = (
            f"no image name can be made from '{path}', because a folder or file "
            "name has no letter or digit. Rename it."
        )
    if problem is None and name in owners:
        problem = (
            f"'{path}' and '{owners[name]}' both become image '{name}', because "
            "names are lowercased and other characters become '-'. Rename one of "
            "the files."
        )
    if problem is not None:
        issues.add_position(path, None, None, "", problem)
        return None
    owners[name] = path
    return name


def _labs_file(labs: list[LegacyLab], labs_path: str, conversion: Conversion) -> None:
    """Write labs.yaml: one team lab per lab id, with the patterns of its ImagePaths."""
    source = SourceMap(labs_path)
    entries: list[dict[str, object]] = []
    by_id: dict[str, int] = {}
    for lab in labs:
        if lab.lab_id is None:
            continue
        index = by_id.setdefault(lab.lab_id.lower(), len(entries))
        if index == len(entries):
            entries.append(
                {"name": lab.lab_id.rsplit("/", 1)[-1], "lab": lab.lab_id, "images": []}
            )
            field = f"labs[{index}]"
            source.add(field, lab.node, lab.field)
            source.add(f"{field}.name", lab.node, lab.field)
            source.add(f"{field}.lab", lab.node, lab.field)
            source.add(f"{field}.images", lab.node, f"{lab.field}.ImagePaths")
        patterns = entries[index]["images"]
        assert isinstance(patterns, list)
        for image_path in lab.image_paths:
            _add_pattern(patterns, image_path, f"labs[{index}]", source)
    comment = (
        "# Team labs converted from Labs.json. A pattern that ends in '/' is an\n"
        "# ImagePaths folder: the lab receives every image below it.\n"
    )
    body = yaml.safe_dump({"labs": entries}, sort_keys=False, allow_unicode=True)
    conversion.files[limits.LABS_FILE] = (comment + body).encode("utf-8")
    conversion.sources[limits.LABS_FILE] = source


def _add_pattern(
    patterns: list[object], image_path: ImagePath, field: str, source: SourceMap
) -> None:
    pattern = pattern_of(image_path.path)
    if pattern in patterns:
        return
    source.add(f"{field}.images[{len(patterns)}]", image_path.node, image_path.field)
    patterns.append(pattern)
