"""Load and validate a configuration repository into a FactoryConfig."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from shared.config import limits
from shared.config.catalog import ArtifactCatalog
from shared.config.factory_file import FactorySettings, read_factory
from shared.config.fields import FileContext
from shared.config.images import image_name_problem, read_image
from shared.config.issues import ConfigError, IssueCollector, did_you_mean
from shared.config.labs_file import LabEntry, read_labs
from shared.config.layering import check_layering
from shared.config.model import FactoryConfig, FactoryDefaults, ImageDefinition
from shared.config.patterns import pattern_matches
from shared.config.repo_files import SelectedFiles, read_directory, select_files
from shared.config.yamlnodes import YamlRejected, parse_yaml

if TYPE_CHECKING:
    from shared.migrate import LegacyOptions

logger = logging.getLogger(__name__)


def load_config_files(
    files: Mapping[str, bytes],
    catalog: ArtifactCatalog | None = None,
    legacy: LegacyOptions | None = None,
) -> FactoryConfig:
    """Validate a configuration given as repository-relative POSIX paths to bytes.

    Files other than factory.yaml, labs.yaml and images/**/*.yaml are
    ignored. Artifacts are checked against `catalog` when one is given.
    Raises ConfigError listing every error (and the warnings) when the
    configuration has any error.

    A repository in the PowerShell image factory's layout (Labs.json and
    templates below GoldenImages/, and no labs.yaml) is converted first;
    `legacy` supplies what that layout does not say (see shared.migrate).
    """
    return _load(files, catalog, IssueCollector(), legacy)


def load_config_dir(
    root: Path | str,
    catalog: ArtifactCatalog | None = None,
    legacy: LegacyOptions | None = None,
) -> FactoryConfig:
    """Validate the configuration checked out at `root` (see load_config_files)."""
    issues = IssueCollector()
    try:
        files = read_directory(Path(root), issues)
    except OSError as exc:
        issues.error(
            str(root),
            None,
            "",
            f"cannot read the configuration directory: {exc}. Check the path.",
        )
        raise ConfigError(issues.sorted()) from exc
    return _load(files, catalog, issues, legacy)


def _load(
    files: Mapping[str, bytes],
    catalog: ArtifactCatalog | None,
    issues: IssueCollector,
    legacy: LegacyOptions | None = None,
) -> FactoryConfig:
    # Imported here: shared.migrate builds on this package.
    from shared.migrate import LegacyOptions, detect_layout, load_legacy

    layout = detect_layout(files)
    if layout is not None:
        return load_legacy(files, layout, catalog, legacy or LegacyOptions(), issues)
    selected = select_files(files, issues)
    if selected is None:
        raise ConfigError(issues.sorted())

    factory = _load_factory(selected, files, issues)
    images, image_names = _load_images(selected, factory, catalog, issues)
    labs = _load_labs(selected, files, issues)
    if labs is not None:
        _check_subscriptions(labs, images, image_names, factory, issues)

    if issues.error_count or factory.lab is None:
        logger.info("configuration rejected with %d errors", issues.error_count)
        raise ConfigError(issues.sorted())
    return FactoryConfig(
        factory_lab_id=factory.lab.id,
        defaults=factory.defaults,
        images=dict(sorted(images.items())),
        labs=[entry.lab for entry in labs or [] if entry.valid],
        warnings=issues.sorted(),
    )


def _parse(
    issues: IssueCollector, path: str, data: bytes
) -> tuple[bool, yaml.Node | None]:
    """Return (True, root node), or report the problem and return (False, None)."""
    try:
        return True, parse_yaml(data)
    except YamlRejected as exc:
        issues.add_position(path, exc.line, exc.column, "", exc.message)
        return False, None


def _load_factory(
    selected: SelectedFiles, files: Mapping[str, bytes], issues: IssueCollector
) -> FactorySettings:
    path = limits.FACTORY_FILE
    ctx = FileContext(path, issues)
    if selected.factory is None:
        if path not in selected.oversized:
            ctx.error(
                None,
                "",
                f"{path} is missing{_case_hint(path, files)}. Add it at the repository "
                "root with 'factory: {lab: <resource id of the factory lab>}'.",
            )
        return FactorySettings(None, FactoryDefaults())
    parsed, root = _parse(issues, path, selected.factory)
    if not parsed:
        return FactorySettings(None, FactoryDefaults())
    return read_factory(ctx, root)


def _load_images(
    selected: SelectedFiles,
    factory: FactorySettings,
    catalog: ArtifactCatalog | None,
    issues: IssueCollector,
) -> tuple[dict[str, ImageDefinition], list[str]]:
    """Return the valid images by name and the names of every image file found."""
    images: dict[str, ImageDefinition] = {}
    slugs: dict[str, str] = {}
    parent_nodes: dict[str, yaml.Node] = {}
    for name, (path, data) in sorted(selected.images.items()):
        ctx = FileContext(path, issues)
        problem = image_name_problem(name)
        if problem is not None:
            ctx.error(None, "", problem)
        else:
            _check_slug(ctx, name, slugs)
        parsed, root = _parse(issues, path, data)
        if not parsed:
            continue
        image = read_image(ctx, name, root, factory.defaults, catalog, parent_nodes)
        if image is not None and problem is None:
            images[name] = image
    check_layering(images, sorted(selected.images), parent_nodes, issues)

    if not selected.images:
        issues.warning(
            limits.IMAGES_DIR,
            None,
            "",
            "no image definitions found. Add images/<name>.yaml files.",
        )
    return images, sorted(selected.images)


def _check_slug(ctx: FileContext, name: str, slugs: dict[str, str]) -> None:
    slug = name.replace("/", "-")
    first = slugs.setdefault(slug, name)
    if first != name:
        ctx.error(
            None,
            "",
            f"image '{name}' and image '{first}' both get custom image names starting "
            f"with '{slug}-', because '/' becomes '-'. Rename one of the files.",
        )


def _load_labs(
    selected: SelectedFiles, files: Mapping[str, bytes], issues: IssueCollector
) -> list[LabEntry] | None:
    """Return the valid team labs, or None when labs.yaml is missing or unreadable."""
    path = limits.LABS_FILE
    ctx = FileContext(path, issues)
    if selected.labs is None:
        if path not in selected.oversized:
            ctx.error(
                None,
                "",
                f"{path} is missing{_case_hint(path, files)}. Add it at the repository "
                "root with a 'labs:' list (it may be empty).",
            )
        return None
    parsed, root = _parse(issues, path, selected.labs)
    return read_labs(ctx, root) if parsed else None


def _case_hint(path: str, files: Mapping[str, bytes]) -> str:
    for other in files:
        if other.lower() == path and other != path:
            return f" (found '{other}', but file names are case-sensitive)"
    return ""


def _check_subscriptions(
    labs: list[LabEntry],
    images: dict[str, ImageDefinition],
    image_names: list[str],
    factory: FactorySettings,
    issues: IssueCollector,
) -> None:
    ctx = FileContext(limits.LABS_FILE, issues)
    folders = sorted({name.rsplit("/", 1)[0] for name in image_names if "/" in name})
    for entry in labs:
        for pattern in entry.patterns:
            if not any(pattern_matches(pattern.pattern, name) for name in image_names):
                hint = did_you_mean(pattern.pattern, image_names + folders)
                ctx.warning(
                    pattern.node,
                    pattern.field,
                    f"pattern '{pattern.pattern}' matches no image.{hint} "
                    "Fix the pattern or remove it.",
                )
        if (
            factory.lab is not None
            and entry.lab.lab_id.lower() == factory.lab.id.lower()
        ):
            ctx.warning(
                entry.values["lab"],
                f"{entry.field}.lab",
                f"team lab '{entry.lab.name}' is the factory lab, so build VMs and "
                "distributed custom images share one lab. Use a separate team lab.",
            )

    parents = {image.parent for image in images.values()}
    for name, image in images.items():
        if name in parents:
            continue  # other images are built on it
        if not any(entry.lab.matches(name) for entry in labs):
            issues.warning(
                image.file,
                None,
                "",
                f"no team lab receives image '{name}'. Add a pattern that matches it "
                f"to {limits.LABS_FILE}, or delete the file.",
            )
