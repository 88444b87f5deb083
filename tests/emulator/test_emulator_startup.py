"""Start-up contract, tokens and authentication."""

from __future__ import annotations

import os
import time

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.mgmt.devtestlabs import DevTestLabsClient
from emulator_testing import (
    ARM_SCOPES,
    RESOURCE_GROUP,
    SUBSCRIPTION_ID,
    RunningEmulator,
    get_token,
    loopback_session,
)

pytestmark = pytest.mark.integration

SUBSCRIPTION = SUBSCRIPTION_ID
LAB_PREFIX = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-imagefactory/providers/Microsoft.DevTestLab/labs"
CONTRACT_KEYS = {
    "arm_endpoint",
    "ca_bundle",
    "identity_endpoint",
    "identity_header",
    "subscription_id",
    "factory_lab_id",
    "team_lab_ids",
    "control_endpoint",
    "storage_connection_string",
}


class _FixedToken:
    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


def _lab_url(emulator: RunningEmulator, lab: str = "dtl-image-factory") -> str:
    return f"{emulator.arm_endpoint}{LAB_PREFIX}/{lab}?api-version=2018-09-15"


def test_connection_file_has_contract_keys(emulator_instance: RunningEmulator) -> None:
    info = emulator_instance.info

    assert set(info) >= CONTRACT_KEYS
    assert info["arm_endpoint"].startswith("https://127.0.0.1:")
    assert info["identity_endpoint"].startswith(info["arm_endpoint"])
    assert info["control_endpoint"].startswith(info["arm_endpoint"])
    assert os.path.isfile(info["ca_bundle"])


def test_connection_file_names_default_seed(emulator_instance: RunningEmulator) -> None:
    info = emulator_instance.info

    assert info["subscription_id"] == SUBSCRIPTION
    assert info["factory_lab_id"] == f"{LAB_PREFIX}/dtl-image-factory"
    assert info["team_lab_ids"] == [
        f"{LAB_PREFIX}/dtl-team-web",
        f"{LAB_PREFIX}/dtl-team-data",
        f"{LAB_PREFIX}/dtl-team-qa",
    ]


def test_default_seed_labs_in_one_region(dtl: DevTestLabsClient) -> None:
    labs = list(dtl.labs.list_by_resource_group(RESOURCE_GROUP))

    assert sorted(lab.name for lab in labs) == [
        "dtl-image-factory",
        "dtl-team-data",
        "dtl-team-qa",
        "dtl-team-web",
    ]
    assert {lab.location for lab in labs} == {"westeurope"}


def test_arm_without_token_is_401(
    emulator_instance: RunningEmulator, controls: object
) -> None:
    response = loopback_session(emulator_instance.ca_bundle).get(
        _lab_url(emulator_instance), timeout=30
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")


def test_arm_with_forged_token_raises(
    emulator_instance: RunningEmulator, sdk_env: RunningEmulator
) -> None:
    client = DevTestLabsClient(
        _FixedToken("not.a-valid.token"),  # type: ignore[arg-type]
        emulator_instance.subscription_id,
        base_url=emulator_instance.arm_endpoint,
        credential_scopes=ARM_SCOPES,
    )

    with pytest.raises(ClientAuthenticationError) as raised:
        client.labs.get(RESOURCE_GROUP, "dtl-image-factory")

    assert raised.value.error is not None
    assert raised.value.error.code == "InvalidAuthenticationToken"


def test_arm_token_for_other_audience_is_401(
    emulator_instance: RunningEmulator, controls: object
) -> None:
    token = get_token(emulator_instance, resource="https://storage.azure.com")

    response = loopback_session(emulator_instance.ca_bundle).get(
        _lab_url(emulator_instance),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_token_endpoint_rejects_wrong_identity_header(
    emulator_instance: RunningEmulator,
) -> None:
    response = loopback_session(emulator_instance.ca_bundle).get(
        str(emulator_instance.info["identity_endpoint"]),
        params={
            "api-version": "2019-08-01",
            "resource": "https://management.azure.com",
        },
        headers={"X-IDENTITY-HEADER": "wrong"},
        timeout=30,
    )

    assert response.status_code == 401
    assert "X-IDENTITY-HEADER" in response.json()["message"]


def test_token_endpoint_returns_app_service_shape(
    emulator_instance: RunningEmulator,
) -> None:
    response = loopback_session(emulator_instance.ca_bundle).get(
        str(emulator_instance.info["identity_endpoint"]),
        params={
            "api-version": "2019-08-01",
            "resource": "https://management.azure.com",
        },
        headers={"X-IDENTITY-HEADER": str(emulator_instance.info["identity_header"])},
        timeout=30,
    )
    body = response.json()

    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["resource"] == "https://management.azure.com"
    assert int(body["expires_on"]) > time.time() + 3600


def test_unknown_route_fails_loudly(
    emulator_instance: RunningEmulator, arm: requests.Session
) -> None:
    url = f"{emulator_instance.arm_endpoint}{LAB_PREFIX}/dtl-image-factory/formulas?api-version=2018-09-15"

    response = arm.get(url, timeout=30)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "InvalidResourceType"


def test_unsupported_method_is_405(
    emulator_instance: RunningEmulator, arm: requests.Session
) -> None:
    response = arm.patch(_lab_url(emulator_instance), json={}, timeout=30)

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "MethodNotAllowed"


def test_missing_api_version_is_400(
    emulator_instance: RunningEmulator, arm: requests.Session
) -> None:
    response = arm.get(_lab_url(emulator_instance).split("?")[0], timeout=30)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MissingApiVersionParameter"


def test_unsupported_api_version_is_400(
    emulator_instance: RunningEmulator, arm: requests.Session
) -> None:
    url = _lab_url(emulator_instance).replace("2018-09-15", "2016-05-15")

    response = arm.get(url, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "NoRegisteredProviderFound"
