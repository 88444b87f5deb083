"""Configuration as code: the model, loader and validator of a configuration repository.

A repository contains factory.yaml (the factory lab and build defaults),
labs.yaml (team labs and the images each receives) and one file per golden
image under images/. `load_config_files` and `load_config_dir` validate it
and return a FactoryConfig, or raise ConfigError listing every problem.
"""

from __future__ import annotations

from shared.config.catalog import (
    ArtifactCatalog,
    ArtifactCatalogError,
    ArtifactSpec,
    ParameterSpec,
)
from shared.config.issues import ConfigError, ConfigIssue
from shared.config.loader import load_config_dir, load_config_files
from shared.config.model import (
    ArtifactRef,
    FactoryConfig,
    FactoryDefaults,
    GalleryImage,
    ImageDefinition,
    TeamLab,
)
from shared.config.patterns import pattern_matches
from shared.config.resource_ids import LabRef, parse_resource_id

__all__ = [
    "ArtifactCatalog",
    "ArtifactCatalogError",
    "ArtifactRef",
    "ArtifactSpec",
    "ConfigError",
    "ConfigIssue",
    "FactoryConfig",
    "FactoryDefaults",
    "GalleryImage",
    "ImageDefinition",
    "LabRef",
    "ParameterSpec",
    "TeamLab",
    "load_config_dir",
    "load_config_files",
    "parse_resource_id",
    "pattern_matches",
]
