"""The machine a measurement ran on, and the cold-start import time of the app."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
IMPORT_RUNS = 7
_IMPORT_PROBE = (
    "import time\n"
    "started = time.perf_counter()\n"
    "import function_app\n"
    "print(time.perf_counter() - started)\n"
)
_IMPORTTIME_PREFIX = "import time:"
HEAVY_PACKAGES = {
    "azure.functions",
    "azure.core",
    "azure.identity",
    "azure.storage.blob",
    "azure.storage.queue",
    "azure.data.tables",
    "azure.mgmt.devtestlabs",
    "azure.mgmt.compute",
    "requests",
    "yaml",
    "pydantic",
    "dulwich",
    "croniter",
    "cryptography",
}


def describe_machine() -> dict[str, Any]:
    """Return CPU model, cores, memory, Python, OS, Azurite version and load average."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "azurite": _azurite_version(),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }


def import_seconds(runs: int = IMPORT_RUNS) -> dict[str, Any]:
    """Import ``function_app`` in fresh interpreters; return the median and every run."""
    samples = [float(_run_python(["-c", _IMPORT_PROBE])) for _ in range(runs)]
    return {
        "median_seconds": statistics.median(samples),
        "samples_seconds": samples,
        "packages": _package_imports(),
    }


def _package_imports() -> list[dict[str, Any]]:
    """Return the cumulative import time of the heavy packages, from ``-X importtime``.

    A package's time counts where it was first imported, with everything it
    imported first itself.
    """
    output = _run_python(["-X", "importtime", "-c", "import function_app"], stderr=True)
    found: list[dict[str, Any]] = []
    for line in output.splitlines():
        if not line.startswith(_IMPORTTIME_PREFIX):
            continue
        fields = line[len(_IMPORTTIME_PREFIX) :].split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue
        name = fields[2].strip()
        if name in HEAVY_PACKAGES:
            found.append({"module": name, "seconds": int(fields[1]) / 1e6})
    found.sort(key=lambda item: float(item["seconds"]), reverse=True)
    return found


def _run_python(args: list[str], stderr: bool = False) -> str:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    env.pop("FACTORY_BENCH_STORAGE_COUNTS", None)
    result = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stderr if stderr else result.stdout


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _azurite_version() -> str | None:
    package = REPO_ROOT / "node_modules" / "azurite" / "package.json"
    try:
        return str(json.loads(package.read_text(encoding="utf-8"))["version"])
    except (OSError, KeyError, ValueError):
        return None
