from __future__ import annotations

import pytest

from shared.errors import WebhookError
from shared.webhooks import github_signature, verify_github_signature

# GitHub's documented test vector for X-Hub-Signature-256.
SECRET = "It's a Secret to Everybody"
BODY = b"Hello, World!"
SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_github_signature_matches_documented_vector() -> None:
    assert github_signature(SECRET, BODY) == SIGNATURE


def test_verify_github_signature_accepts_valid() -> None:
    verify_github_signature(SECRET, BODY, SIGNATURE)


@pytest.mark.parametrize("header", [None, "", "sha256=00", SIGNATURE.replace("7", "8")])
def test_verify_github_signature_rejects_invalid(header: str | None) -> None:
    with pytest.raises(WebhookError) as raised:
        verify_github_signature(SECRET, BODY, header)
    assert raised.value.status == 401
