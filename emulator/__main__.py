"""Run the emulator: ``python -m emulator --state-dir DIR``."""

from __future__ import annotations

import sys

from emulator.cli import main

sys.exit(main())
