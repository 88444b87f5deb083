"""Read configuration written for the PowerShell image factory of DevTest Labs.

That factory kept Labs.json (team labs and the template paths each
receives) and one ARM template per golden image below GoldenImages/. The
loader converts such a repository in memory, so the factory can run it as
it is; ``imagefactory migrate`` writes the converted files to disk.
"""

from __future__ import annotations

from shared.migrate.convert import (
    Conversion,
    LegacyLayout,
    LegacyOptions,
    convert_legacy,
    detect_layout,
    image_name_of,
    pattern_of,
)
from shared.migrate.load import load_legacy, validate_conversion

__all__ = [
    "Conversion",
    "LegacyLayout",
    "LegacyOptions",
    "convert_legacy",
    "detect_layout",
    "image_name_of",
    "load_legacy",
    "pattern_of",
    "validate_conversion",
]
