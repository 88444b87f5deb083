"""HTTP API handlers against Azurite: request validation."""

from __future__ import annotations

import json

import pytest

from shared import api
from shared.context import Factory
from shared.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def factory(azurite: str) -> Factory:
    settings = Settings.from_env(
        {"AzureWebJobsStorage": azurite, "FACTORY_CONFIG_REPO": "/unused"}
    )
    factory = Factory.from_settings(settings)
    factory.ensure_resources()
    return factory


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"images": ["*a" * 100]}, "has 200 characters: use at most 128"),
        ({"images": ["../etc"]}, "without '..'"),
        ({"labs": ["x"] * 101}, "give at most 100"),
        ({"images": "linux/*"}, "must be a list"),
        ({"force": "yes"}, "force must be true or false"),
        ({"colour": "blue"}, "unknown fields ['colour']"),
    ],
)
def test_create_run_rejects_invalid_body(
    factory: Factory, body: object, message: str
) -> None:
    status, response = api.create_run(factory, json.dumps(body).encode(), "tests")
    assert status == 400
    assert message in response["error"]["message"]


def test_create_run_rejects_large_body(factory: Factory) -> None:
    status, _ = api.create_run(
        factory, b" " * (api.MAX_REQUEST_BODY_BYTES + 1), "tests"
    )
    assert status == 413


def test_show_run_rejects_malformed_id(factory: Factory) -> None:
    status, response = api.show_run(factory, "x" * 5000)
    assert status == 404
    assert "GET /api/runs" in response["error"]["message"]
    assert len(response["error"]["message"]) < 200
