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
        ("GET /api/runs?code=fnkey123&limit=5", "fnkey123"),
        ("x-functions-key: fnkey123", "fnkey123"),
        ('{"access_token": "eyJ0eXAi", "expires_on": "1"}', "eyJ0eXAi"),
        ("FACTORY_GITHUB_WEBHOOK_SECRET=hooksecret", "hooksecret"),
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


def test_log_context_prefixes_message(caplog: pytest.LogCaptureFixture) -> None:
    logcontext.install()
    logger = logging.getLogger("tests.logcontext")
    with (
        caplog.at_level(logging.INFO),
        log_context(run_id="r1", task_id="t1", stage="build"),
    ):
        logger.info("created VM %s", "ifb123")
    assert caplog.records[-1].getMessage() == (
        "[run_id=r1 task_id=t1 stage=build] created VM ifb123"
    )


def test_log_context_prefix_skips_empty_fields(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logcontext.install()
    logger = logging.getLogger("tests.logcontext")
    with caplog.at_level(logging.INFO), log_context(stage="refresh", task_id=""):
        logger.info("nothing due")
    assert caplog.records[-1].getMessage() == "[stage=refresh] nothing due"


def test_message_outside_context_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    logcontext.install()
    logger = logging.getLogger("tests.logcontext")
    with caplog.at_level(logging.INFO):
        logger.info("factory ready (%d queues)", 5)
    assert caplog.records[-1].getMessage() == "factory ready (5 queues)"
    assert caplog.records[-1].run_id == ""  # type: ignore[attr-defined]


def test_logged_exception_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logcontext.install()
    logger = logging.getLogger("tests.logcontext")
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError("copy of https://h/c/b.vhd?sv=1&sig=SECRETSIG failed")
        except RuntimeError:
            logger.exception("capture failed")
    record = caplog.records[-1]
    assert "SECRETSIG" not in caplog.text
    assert "sig=REDACTED" in caplog.text
    assert "RuntimeError" in caplog.text
    assert record.exc_info is None


def test_logged_exception_without_secret_keeps_exc_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logcontext.install()
    logger = logging.getLogger("tests.logcontext")
    with caplog.at_level(logging.ERROR):
        try:
            raise RuntimeError("lab not found")
        except RuntimeError:
            logger.exception("capture failed")
    assert caplog.records[-1].exc_info is not None
    assert "lab not found" in caplog.text
