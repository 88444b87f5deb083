"""Records that the sample functions append to a JSON Lines file, for the tests to read."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()


def record(function: str, **fields: Any) -> None:
    """Append one record naming the function to SAMPLE_RECORDS_FILE."""
    line = json.dumps({"function": function, **fields}, default=str)
    with (
        _lock,
        Path(os.environ["SAMPLE_RECORDS_FILE"]).open("a", encoding="utf-8") as stream,
    ):
        stream.write(line + "\n")
