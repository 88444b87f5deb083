"""Start the emulator for tests, and talk to it: controls, tokens, spec examples."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.compute.models import GrantAccessData
from azure.mgmt.devtestlabs.models import (
    ArtifactInstallProperties,
    ArtifactParameterProperties,
    CustomImage,
    CustomImagePropertiesCustom,
    GalleryImageReference,
    LabVirtualMachine,
)
from azure.storage.blob import BlobClient

from scripts.localstack.endpoints import read_json_file
from scripts.localstack.processes import ServiceProcess, start_service, wait_until_ready

REPO_ROOT = Path(__file__).resolve().parents[2]
ARM_SCOPES = ["https://management.azure.com/.default"]
SUBSCRIPTION_ID = "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"
FACTORY_LAB = "dtl-image-factory"
TEAM_LAB = "dtl-team-web"
SPEC_EXAMPLES = Path(__file__).with_name("spec_examples")
TEST_TIME_SCALE = 0.001
STARTUP_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")


@dataclass
class RunningEmulator:
    process: ServiceProcess
    state_dir: Path
    info: dict[str, Any]

    @property
    def arm_endpoint(self) -> str:
        return str(self.info["arm_endpoint"])

    @property
    def ca_bundle(self) -> str:
        return str(self.info["ca_bundle"])

    @property
    def subscription_id(self) -> str:
        return str(self.info["subscription_id"])

    def controls(self) -> Controls:
        return Controls(str(self.info["control_endpoint"]), self.ca_bundle)

    def stop(self) -> int:
        return self.process.stop(grace_seconds=10)


def start_emulator(
    state_dir: Path,
    storage_connection_string: str,
    *,
    time_scale: float | None = TEST_TIME_SCALE,
    seed_file: Path | None = None,
    name: str = "emulator",
) -> RunningEmulator:
    """Start python -m emulator and wait until it writes connection.json."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ready_file = state_dir / "connection.json"
    ready_file.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "emulator",
        "--state-dir",
        str(state_dir),
        "--port",
        "0",
    ]
    argv += ["--storage-connection-string", storage_connection_string]
    if time_scale is not None:
        argv += ["--time-scale", str(time_scale)]
    if seed_file is not None:
        argv += ["--seed-labs", str(seed_file)]

    process = start_service(name, argv, state_dir.parent / f"{name}.log", cwd=REPO_ROOT)
    try:
        info = wait_until_ready(
            process,
            lambda: read_json_file(ready_file),
            timeout=STARTUP_TIMEOUT_SECONDS,
            condition=f"it writes {ready_file}",
        )
    except BaseException:
        process.stop()
        raise
    return RunningEmulator(process, state_dir, info)


class Controls:
    """A client of the emulator's /_emulator controls."""

    def __init__(self, base_url: str, ca_bundle: str) -> None:
        self.base_url = base_url
        self.session = loopback_session(ca_bundle)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(
            method, f"{self.base_url}{path}", timeout=30, **kwargs
        )

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.call(method, path, **kwargs)
        assert response.ok, (
            f"{method} {path} returned {response.status_code}: {response.text}"
        )
        return response.json() if response.content else None

    def reset(self) -> None:
        self._json("POST", "/reset")

    def set_time_scale(self, scale: float) -> None:
        self._json("PUT", "/time-scale", json={"time_scale": scale})

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        return dict(self._json("POST", "/faults", json=rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/faults")["faults"])

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._json("GET", "/requests", params={"since": since})["entries"])

    def last_seq(self) -> int:
        return int(
            self._json("GET", "/requests", params={"since": 0, "limit": 100000})[
                "last_seq"
            ]
        )

    def set_throttling(self, **settings: Any) -> dict[str, Any]:
        return dict(self._json("PUT", "/throttling", json=settings))

    def role_assignments(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/role-assignments")["role_assignments"])

    def set_role_assignments(self, assignments: list[dict[str, Any]]) -> None:
        self._json("PUT", "/role-assignments", json={"role_assignments": assignments})

    def content(self, **query: str) -> dict[str, Any]:
        return dict(self._json("GET", "/content", params=query))


def loopback_session(ca_bundle: str) -> requests.Session:
    """Return a session that trusts the emulator's CA, whatever the environment sets.

    requests lets REQUESTS_CA_BUNDLE and proxy variables override a session's
    own settings, so the session ignores the environment.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle
    return session


def get_token(emulator: RunningEmulator, **query: str) -> str:
    response = loopback_session(emulator.ca_bundle).get(
        str(emulator.info["identity_endpoint"]),
        params={
            "api-version": "2019-08-01",
            "resource": "https://management.azure.com",
            **query,
        },
        headers={"X-IDENTITY-HEADER": str(emulator.info["identity_header"])},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def wait_for(
    probe: Callable[[], T | None], *, timeout: float = 20.0, interval: float = 0.02
) -> T:
    """Call probe until it returns something other than None or False."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def load_spec_example(name: str) -> dict[str, Any]:
    """Load a REST API specification example from spec_examples/ (e.g. 'VirtualMachines_Get')."""
    return dict(
        json.loads((SPEC_EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    )


# Builders of SDK request models.

RESOURCE_GROUP = "rg-imagefactory"
WINDOWS_IMAGE = {
    "publisher": "MicrosoftWindowsServer",
    "offer": "WindowsServer",
    "sku": "2022-datacenter-azure-edition",
    "os_type": "Windows",
    "version": "latest",
}
LINUX_IMAGE = {
    "publisher": "Canonical",
    "offer": "0001-com-ubuntu-server-jammy",
    "sku": "22_04-lts-gen2",
    "os_type": "Linux",
    "version": "latest",
}


def artifact(
    subscription_id: str, lab: str, name: str, **parameters: str
) -> ArtifactInstallProperties:
    """Build an ArtifactInstallProperties for an artifact of the lab's public repo."""
    artifact_id = (
        f"/subscriptions/{subscription_id}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.DevTestLab/labs/{lab}/artifactSources/public repo/artifacts/{name}"
    )
    return ArtifactInstallProperties(
        artifact_id=artifact_id,
        parameters=[
            ArtifactParameterProperties(name=key, value=value)
            for key, value in parameters.items()
        ],
    )


def lab_vm(
    *,
    image: dict[str, str] | None = None,
    custom_image_id: str | None = None,
    artifacts: list[Any] | None = None,
    size: str = "Standard_D2s_v3",
    location: str = "westeurope",
    tags: dict[str, str] | None = None,
) -> LabVirtualMachine:
    """Build a LabVirtualMachine as the factory creates one: no public IP, not claimable."""
    reference = None
    if custom_image_id is None:
        reference = GalleryImageReference(**(image or WINDOWS_IMAGE))
    return LabVirtualMachine(
        location=location,
        size=size,
        user_name="factoryadmin",
        password="Emulat0r-Passw0rd!",
        gallery_image_reference=reference,
        custom_image_id=custom_image_id,
        artifacts=artifacts or [],
        storage_type="Standard",
        allow_claim=False,
        disallow_public_ip_address=True,
        notes="built by the emulator tests",
        tags=tags if tags is not None else {"factory-image": "test"},
    )


def wait_for_vm(dtl: Any, lab: str, name: str, *, timeout: float = 20.0) -> Any:
    """Poll a lab VM until its provisioning state is Succeeded or Failed; return it."""

    def finished() -> Any:
        vm = dtl.virtual_machines.get(
            RESOURCE_GROUP, lab, name, expand="properties($expand=artifacts,computeVm)"
        )
        return vm if vm.provisioning_state in ("Succeeded", "Failed") else None

    return wait_for(finished, timeout=timeout)


def wait_for_image(dtl: Any, lab: str, name: str, *, timeout: float = 20.0) -> Any:
    def finished() -> Any:
        image = dtl.custom_images.get(RESOURCE_GROUP, lab, name)
        return image if image.provisioning_state in ("Succeeded", "Failed") else None

    return wait_for(finished, timeout=timeout)


def wait_until_gone(get: Callable[[], Any], *, timeout: float = 20.0) -> None:
    """Poll a get call until it raises ResourceNotFoundError."""

    def gone() -> bool:
        try:
            get()
        except ResourceNotFoundError:
            return True
        return False

    wait_for(gone, timeout=timeout)


def build_generalized_vm(dtl: Any, subscription_id: str, lab: str, name: str) -> Any:
    """Build a Windows VM with one package and sysprep, and wait until it is deallocated."""
    artifacts = [
        artifact(subscription_id, lab, "windows-chocolatey", packages="git"),
        artifact(subscription_id, lab, "windows-sysprep"),
    ]
    dtl.virtual_machines.begin_create_or_update(
        RESOURCE_GROUP, lab, name, lab_vm(artifacts=artifacts), polling=False
    )
    return wait_for_vm(dtl, lab, name)


def disk_location(disk_id: str) -> tuple[str, str]:
    """Return the resource group and name of a managed disk id."""
    parts = disk_id.split("/")
    return parts[4], parts[-1]


def capture_image(
    dtl: Any, compute: Any, emulator: RunningEmulator, lab: str, image_name: str
) -> Any:
    """Do what the factory does: build, read the OS disk, upload it to a lab, create a custom image."""
    vm = build_generalized_vm(
        dtl, emulator.subscription_id, FACTORY_LAB, f"vm-{image_name}"[:15]
    )
    group, disk = disk_location(vm.compute_vm.os_disk_id)
    access = compute.disks.begin_grant_access(
        group, disk, GrantAccessData(access="Read", duration_in_seconds=600)
    ).result()

    upload_uri = dtl.labs.generate_upload_uri(
        RESOURCE_GROUP, lab, blob_name=f"{image_name}.vhd"
    ).upload_uri
    BlobClient.from_blob_url(upload_uri).start_copy_from_url(access.access_sas)

    image = CustomImage(
        vhd=CustomImagePropertiesCustom(
            image_name=upload_uri.split("?", 1)[0], sys_prep=True, os_type="Windows"
        ),
        description=f"{image_name} from the emulator tests",
        tags={"factory-image": image_name},
    )
    dtl.custom_images.begin_create_or_update(
        RESOURCE_GROUP, lab, image_name, image, polling=False
    )
    return wait_for_image(dtl, lab, image_name)
