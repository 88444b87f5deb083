"""Load a repository in the PowerShell factory's layout as a FactoryConfig."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from shared.config import limits
from shared.config.catalog import ArtifactCatalog
from shared.config.issues import ConfigError, ConfigIssue, IssueCollector
from shared.config.loader import load_config_files
from shared.config.model import FactoryConfig
from shared.migrate.convert import (
    Conversion,
    LegacyLayout,
    LegacyOptions,
    convert_legacy,
)
from shared.migrate.sources import remap_issue, reported_already

logger = logging.getLogger(__name__)


def load_legacy(
    files: Mapping[str, bytes],
    layout: LegacyLayout,
    catalog: ArtifactCatalog | None,
    options: LegacyOptions,
    issues: IssueCollector,
) -> FactoryConfig:
    """Convert the old layout in memory and validate the result.

    Every issue names the original file, line and column. Images keep the
    template path as their `file`. Raises ConfigError on any error.
    """
    conversion = convert_legacy(files, layout, options, issues)
    config, converted_issues = validate_conversion(conversion, catalog)
    issues.issues.extend(converted_issues)
    if issues.error_count or config is None:
        logger.info(
            "configuration in the PowerShell factory's layout rejected with %d errors",
            issues.error_count,
        )
        raise ConfigError(issues.sorted())
    images = {
        name: dataclasses.replace(image, file=_source_of(conversion, image.file))
        for name, image in config.images.items()
    }
    return dataclasses.replace(config, images=images, warnings=issues.sorted())


def validate_conversion(
    conversion: Conversion, catalog: ArtifactCatalog | None
) -> tuple[FactoryConfig | None, list[ConfigIssue]]:
    """Validate converted files; return the config (None on errors) and remapped issues.

    Issues about a factory.yaml or labs.yaml that the conversion could not
    write, or about values it could not read, are left out, because the
    conversion reported those already.
    """
    try:
        config: FactoryConfig | None = load_config_files(conversion.files, catalog)
        found = config.warnings if config else []
    except ConfigError as exc:
        config, found = None, exc.issues
    issues = [
        remap_issue(issue, conversion.sources)
        for issue in found
        if not _about_unwritten_file(issue, conversion)
        and not reported_already(issue, conversion.sources)
    ]
    return config, issues


def _about_unwritten_file(issue: ConfigIssue, conversion: Conversion) -> bool:
    return (
        issue.file in (limits.FACTORY_FILE, limits.LABS_FILE)
        and issue.file not in conversion.files
    )


def _source_of(conversion: Conversion, converted: str) -> str:
    source = conversion.sources.get(converted)
    return source.source if source else converted
