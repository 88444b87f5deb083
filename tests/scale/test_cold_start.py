"""Cold start: importing the function app leaves the storage SDKs for first use.

Every cold start of the app imports ``function_app.py``. The blob and queue
SDKs add about 50 and 70 ms to that import (``-X importtime`` on the
two-core machine of docs/benchmarks.md), and no function needs them before
it runs, so the handlers import them on first use. Timings are not asserted here; ``make
bench`` measures them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, sys\n"
    "import function_app\n"
    "print(json.dumps(sorted(m for m in sys.modules if m.startswith('azure.storage'))))\n"
)


def test_cold_start_defers_storage_sdks() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = json.loads(result.stdout)
    assert "azure.storage.blob" not in loaded
    assert "azure.storage.queue" not in loaded
