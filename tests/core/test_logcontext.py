from __future__ import annotations

import logging

import pytest

from shared import logcontext
from shared.logcontext import log_context, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "GET https://a.blob.core.windows.net/c/b.vhd?sv=2024&sig=abc%2Bdef&se=1",
            "abc%2Bdef",
        ),
        ("Authorization: Bearer eyJ0eXAi.eyJhdWQ.sig", "eyJ0eXAi"),
        ('{"password": "P@ssw0rd!"}', "P@ssw0rd!"),
        ("AccountKey=Eby8vdM02xNOcqFl==;", "Eby8vdM02xNOcqFl"),
        ("https://x-access-token:ghp_123@github.com/c/r.git", "ghp_123"),
    ],
)
def test_redact_removes_secret(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "REDACTED" in cleaned


def test_log_context_on_records(caplog: pytest.LogCaptureFixture) -> None:
    logcontext.install()
    logger = logging.getLogger("tests.logcontext")
    with (
        caplog.at_level(logging.INFO),
        log_context(run_id="r1", task_id="t1", stage="build"),
    ):
        logger.info("copy from %s", "https://h/c/b?sig=SECRET")
    record = caplog.records[-1]
    assert record.run_id == "r1"  # type: ignore[attr-defined]
    assert record.stage == "build"  # type: ignore[attr-defined]
    assert "SECRET" not in record.getMessage()
