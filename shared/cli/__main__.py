"""Run the imagefactory command line: ``python -m shared.cli``."""

from __future__ import annotations

from shared.cli import main

raise SystemExit(main())
