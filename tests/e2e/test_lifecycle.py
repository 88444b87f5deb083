"""Image lifecycle through the dev host: retention, reconciliation, expiry, watchdog,
retry, cancel, single-flight and auto-disable.

The module runs its own stack, so the state the tests build on does not
depend on which other tests ran first.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.identity import DefaultAzureCredential
from azure.mgmt.devtestlabs import models
from azure.storage.blob import BlobClient, BlobServiceClient
from azure.storage.queue import QueueClient

from scripts.localstack import ConfigRepo, LocalStack
from shared.config import LabRef, parse_resource_id
from shared.labs import LabClient
from shared.lifecycle.retention import IMAGE_TAG, is_factory_resource
from shared.planner import custom_image_name
from shared.queues import STAGE_QUEUES
from tests.e2e.pipeline import send_push, tasks_of, wait_for, wait_for_run

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40"
GROUP = "rg-imagefactory"
LAB_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}/providers/Microsoft.DevTestLab/labs/"
FACTORY_LAB = parse_resource_id(LAB_ID + "dtl-image-factory")
TEAM_QA = parse_resource_id(LAB_ID + "dtl-team-qa")
TEAM_WEB = parse_resource_id(LAB_ID + "dtl-team-web")
DOCKER_IMAGE = "linux/ubuntu-docker"
DOCKER_FILE = f"images/{DOCKER_IMAGE}.yaml"
SETTINGS = {
    # Expiry deletes factory VMs older than their build timeout at once.
    "FACTORY_ORPHAN_MARGIN_MINUTES": "0",
    # The watchdog resumes a run after 3 seconds without progress.
    "FACTORY_WATCHDOG_STALL_MINUTES": "0.05",
    "FACTORY_AUTO_DISABLE_AFTER": "2",
    "FACTORY_MONITOR_INTERVAL_SECONDS": "1",
}
# Builds take about 5 s instead of the default 12 s.
TIME_SCALE = 0.004


@dataclass
class Lifecycle:
    stack: LocalStack
    repo: ConfigRepo
    labs: LabClient

    def push(self, changes: dict[str, Any], message: str) -> dict[str, Any]:
        return wait_for_run(
            self.stack, send_push(self.stack, self.repo, changes, message)
        )

    def controls(self, path: str, method: str = "GET", body: Any = None) -> Any:
        url = f"{self.stack.emulator.control_endpoint.rstrip('/')}/{path}"
        session = requests.Session()
        session.trust_env = False
        response = session.request(
            method, url, json=body, verify=self.stack.emulator.ca_bundle, timeout=30
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def run_timer(self, name: str, trigger: str | None = None) -> dict[str, Any] | None:
        """Invoke a timer function once; return the run it started, if it starts one."""
        before = {r["run_id"] for r in self.stack.api().get("/api/runs").json()["runs"]}
        with self.stack.admin_api() as admin:
            response = admin.post(f"/admin/functions/{name}", json={})
        assert response.status_code == 202, response.text
        if trigger is None:
            return None

        def started() -> str | None:
            runs = self.stack.api().get("/api/runs").json()["runs"]
            new = [
                r for r in runs if r["run_id"] not in before and r["trigger"] == trigger
            ]
            return new[0]["run_id"] if new else None

        return wait_for_run(self.stack, wait_for(started, f"a {trigger} run"))

    @contextlib.contextmanager
    def roles_replaced(self, replacement: list[dict[str, Any]]) -> Iterator[None]:
        """Replace the emulator's role assignments inside the block, then restore them."""
        saved = self.controls("role-assignments")["role_assignments"]
        self.controls("role-assignments", "PUT", {"role_assignments": replacement})
        try:
            yield
        finally:
            self.controls("role-assignments", "PUT", {"role_assignments": saved})

    def factory_images(self, lab: LabRef, image: str) -> list[Any]:
        return [
            ci
            for ci in self.labs.list_custom_images(lab)
            if is_factory_resource(ci.tags) and ci.tags.get(IMAGE_TAG) == image
        ]

    def live_vms(self, lab: LabRef) -> list[Any]:
        return [
            vm for vm in self.labs.list_vms(lab) if vm.provisioning_state != "Deleting"
        ]


def with_extra_artifact(text: str, packages: str) -> str:
    extra = (
        f"  - name: linux-apt-package\n    parameters:\n      packages: {packages}\n"
    )
    return text.replace("artifacts:\n", "artifacts:\n" + extra, 1)


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycle]:
    base = tmp_path_factory.mktemp("lifecycle")
    repo, _ = ConfigRepo.create_from(ROOT / "examples" / "config-repo", base / "config")
    stack = LocalStack(
        base / "stack",
        config_repo=repo.path,
        extra_settings=SETTINGS,
        time_scale=TIME_SCALE,
    )
    stack.start()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("IDENTITY_ENDPOINT", stack.emulator.identity_endpoint)
            env.setenv("IDENTITY_HEADER", stack.emulator.identity_header)
            env.setenv("REQUESTS_CA_BUNDLE", stack.emulator.ca_bundle)
            env.delenv("AZURE_CLIENT_ID", raising=False)
            labs = LabClient(stack.emulator.arm_endpoint, DefaultAzureCredential())
            life = Lifecycle(stack, repo, labs)
            first = life.push({}, "Build every image")
            assert first["run"]["status"] == "succeeded", first["run"]["error"]
            yield life
    finally:
        stack.stop()


def docker_text(life: Lifecycle) -> str:
    return (life.repo.path / DOCKER_FILE).read_text()


def make_hand_made_image(life: Lifecycle, lab: LabRef, name: str) -> None:
    """Upload a VHD into the lab's storage and create a custom image without the factory's tag."""
    service = BlobServiceClient.from_connection_string(
        life.stack.storage_connection_string
    )
    source = next(service.get_container_client("images").list_blobs()).name
    data = service.get_blob_client("images", source).download_blob().readall()
    upload = life.labs.upload_uri(lab, f"{name}.vhd")
    BlobClient.from_blob_url(upload).upload_blob(data, blob_type="PageBlob")
    life.labs.create_custom_image(
        lab, name, upload.split("?")[0], "Linux", "hand-made", {"owner": "qa-team"}
    )
    wait_for(
        lambda: (
            (
                life.labs.get_custom_image(lab, name) or models.CustomImage()
            ).provisioning_state
            == "Succeeded"
        ),
        f"custom image {name}",
    )


def create_lab_vm(
    life: Lifecycle,
    lab: LabRef,
    name: str,
    custom_image_id: str,
    tags: dict[str, str] | None = None,
) -> None:
    vm = models.LabVirtualMachine(
        location="westeurope",
        size="Standard_D2s_v3",
        user_name="qauser",
        password="Qa-" + secrets.token_urlsafe(12) + "1a!",
        custom_image_id=custom_image_id,
        storage_type="Standard",
        tags=tags,
    )
    life.labs.dtl(lab.subscription_id).virtual_machines.begin_create_or_update(
        lab.resource_group, lab.name, name, vm, polling=False
    )


def test_in_use_version_survives_retention_until_its_vm_goes(life: Lifecycle) -> None:
    make_hand_made_image(life, TEAM_QA, "handmade-ubuntu")
    old = life.factory_images(TEAM_QA, DOCKER_IMAGE)
    assert len(old) == 1  # team-qa keeps one version
    create_lab_vm(life, TEAM_QA, "qa-tester-1", old[0].id)

    run = life.push(
        {DOCKER_FILE: with_extra_artifact(docker_text(life), "jq")}, "Add jq"
    )
    assert run["run"]["status"] == "succeeded", run["run"]["error"]
    retire = [t for t in tasks_of(run, "retire") if t["lab"] == "dtl-team-qa"]
    assert [t["phase"] for t in retire] == ["retained_in_use"]
    assert "qa-tester-1" in retire[0]["reason"]
    names = {ci.name for ci in life.factory_images(TEAM_QA, DOCKER_IMAGE)}
    assert old[0].name in names
    assert len(names) == 2

    life.labs.delete_vm(TEAM_QA, "qa-tester-1")
    # A VM still being deleted counts as a user of its image, so wait until it is gone.
    wait_for(lambda: not life.labs.list_vms(TEAM_QA), "the team VM to go")
    expiry = life.run_timer("expiry", trigger="expiry")
    assert expiry is not None
    assert expiry["run"]["status"] == "succeeded", expiry["run"]["error"]
    wait_for(
        lambda: (
            old[0].name
            not in {ci.name for ci in life.factory_images(TEAM_QA, DOCKER_IMAGE)}
        ),
        "the old version to be retired",
    )
    # The hand-made image carries no factory tag and is never a candidate.
    assert life.labs.get_custom_image(TEAM_QA, "handmade-ubuntu") is not None


def test_dropping_subscription_removes_only_factory_images(life: Lifecycle) -> None:
    web_before = {ci.name for ci in life.factory_images(TEAM_WEB, DOCKER_IMAGE)}
    labs_yaml = (life.repo.path / "labs.yaml").read_text()
    changed = labs_yaml.replace(
        'images: ["windows/", "linux/ubuntu-docker"]', 'images: ["windows/"]'
    )
    assert changed != labs_yaml
    run = life.push({"labs.yaml": changed}, "Stop sending Ubuntu Docker to QA")
    assert run["run"]["status"] == "succeeded", run["run"]["error"]
    assert tasks_of(run, "build") == []
    wait_for(
        lambda: not life.factory_images(TEAM_QA, DOCKER_IMAGE),
        "QA's Docker images to go",
    )
    assert {ci.name for ci in life.factory_images(TEAM_WEB, DOCKER_IMAGE)} == web_before
    assert life.labs.get_custom_image(TEAM_QA, "handmade-ubuntu") is not None


def test_expiry_deletes_orphaned_factory_vm(life: Lifecycle) -> None:
    # A factory-tagged VM whose build timeout has passed (0 minutes, margin 0).
    tags = {
        "created-by": "image-factory",
        "factory-timeout-minutes": "0",
        "factory-run": "gone",
    }
    make_hand_made_image(life, FACTORY_LAB, "orphan-source")
    source = life.labs.get_custom_image(FACTORY_LAB, "orphan-source")
    assert source is not None
    create_lab_vm(life, FACTORY_LAB, "ifborphan01", source.id, tags)
    wait_for(
        lambda: any(vm.name == "ifborphan01" for vm in life.live_vms(FACTORY_LAB)),
        "the VM",
    )

    expiry = life.run_timer("expiry", trigger="expiry")
    assert expiry is not None
    retired_vms = [t for t in tasks_of(expiry, "retire") if t["target"] == "vm"]
    assert [t["status"] for t in retired_vms] == ["succeeded"]
    assert "orphaned" in retired_vms[0]["reason"]
    wait_for(
        lambda: all(vm.name != "ifborphan01" for vm in life.live_vms(FACTORY_LAB)),
        "the orphaned VM to be deleted",
    )


def test_retry_reruns_only_failed_tasks(life: Lifecycle) -> None:
    rule = life.controls(
        "faults",
        "POST",
        {"kind": "artifact_failure", "artifact": "linux-install-nodejs", "count": 1},
    )
    node_file = "images/linux/ubuntu-node.yaml"
    node = (life.repo.path / node_file).read_text()
    changes = {
        node_file: with_extra_artifact(node, "htop"),
        DOCKER_FILE: with_extra_artifact(docker_text(life), "htop"),
    }
    run = life.push(changes, "Add htop to two images")
    assert run["run"]["status"] == "partially_succeeded"
    failed = {
        t["task_id"] for t in run["tasks"] if t["status"] in ("failed", "skipped")
    }
    assert "build|linux/ubuntu-node" in failed
    kept = {t["task_id"]: t for t in run["tasks"] if t["status"] == "succeeded"}
    life.controls(f"faults/{rule['id']}", "DELETE")

    response = life.stack.api().post(f"/api/runs/{run['run']['run_id']}/retry")
    assert response.status_code == 202, response.text
    assert set(response.json()["retried"]) == failed
    again = wait_for_run(life.stack, run["run"]["run_id"])
    assert again["run"]["status"] == "succeeded", again["run"]["error"]
    for task in again["tasks"]:
        if task["task_id"] in kept:
            assert task["finished_at"] == kept[task["task_id"]]["finished_at"]
            assert task["attempts"] == kept[task["task_id"]]["attempts"]
    build = next(t for t in again["tasks"] if t["task_id"] == "build|linux/ubuntu-node")
    assert build["attempts"] == 2


def test_cancel_leaves_no_vm_or_partial_copy(life: Lifecycle) -> None:
    run_id = send_push(
        life.stack,
        life.repo,
        {DOCKER_FILE: with_extra_artifact(docker_text(life), "tree")},
        "Add tree",
    )
    wait_for(
        lambda: any(
            t["phase"] == "provisioning"
            for t in life.stack.api().get(f"/api/runs/{run_id}").json()["tasks"]
        ),
        "the build to start",
    )
    response = life.stack.api().post(f"/api/runs/{run_id}/cancel")
    assert response.status_code == 202, response.text
    run = wait_for_run(life.stack, run_id)
    assert run["run"]["status"] == "cancelled"
    assert all(t["status"] in ("cancelled", "skipped") for t in run["tasks"])
    counts = run["run"]["counts"]
    statuses = [t["status"] for t in run["tasks"]]
    assert counts["cancelled"] == statuses.count("cancelled")
    assert counts["failed"] == statuses.count("skipped")
    wait_for(
        lambda: (
            not [vm for vm in life.live_vms(FACTORY_LAB) if vm.name.startswith("ifb")]
        ),
        "the factory VM to be deleted",
    )
    # No partial copy of the cancelled version is left in any team lab.
    version = tasks_of(run, "build")[0]["version"]
    partial = f"{custom_image_name(DOCKER_IMAGE, version)}.vhd"
    service = BlobServiceClient.from_connection_string(
        life.stack.storage_connection_string
    )
    uploads = [
        blob.name
        for container in service.list_containers()
        if container.name.endswith("-uploads")
        for blob in service.get_container_client(container.name).list_blobs()
    ]
    assert partial not in uploads
    for lab in (TEAM_WEB, TEAM_QA):
        assert life.labs.get_custom_image(lab, partial.removesuffix(".vhd")) is None


def test_watchdog_resumes_stalled_run(life: Lifecycle) -> None:
    run_id = send_push(
        life.stack,
        life.repo,
        {DOCKER_FILE: with_extra_artifact(docker_text(life), "curl")},
        "Add curl",
    )
    # The host dies and the run's messages are lost with it.
    life.stack.stop_devhost(kill=True)
    for queue in STAGE_QUEUES:
        QueueClient.from_connection_string(
            life.stack.storage_connection_string, queue
        ).clear_messages()
    life.stack.start_devhost()
    time.sleep(4)  # past the 3-second stall threshold
    stalled = life.stack.api().get(f"/api/runs/{run_id}").json()["run"]
    assert stalled["status"] in ("queued", "planning", "running")

    life.run_timer("watchdog")
    run = wait_for_run(life.stack, run_id)
    assert run["run"]["status"] == "succeeded", run["run"]["error"]


def test_concurrent_pushes_make_one_version(life: Lifecycle) -> None:
    text = with_extra_artifact(docker_text(life), "zip")
    first = send_push(life.stack, life.repo, {DOCKER_FILE: text}, "Add zip")
    second = send_push(life.stack, life.repo, {"NOTES.md": "zip added\n"}, "Note it")
    runs = [wait_for_run(life.stack, first), wait_for_run(life.stack, second)]
    assert [r["run"]["status"] for r in runs] == ["succeeded", "succeeded"]
    builds = [t for r in runs for t in tasks_of(r, "build")]
    assert len(builds) == 2
    assert "reused" in [t["phase"] for t in builds]
    versions = life.stack.api().get("/api/images").json()["images"][DOCKER_IMAGE]
    content_hash = builds[0]["content_hash"]
    assert len([v for v in versions if v["content_hash"] == content_hash]) == 1


def test_image_disabled_after_repeated_failures(life: Lifecycle) -> None:
    life.controls(
        "faults",
        "POST",
        {"kind": "artifact_failure", "artifact": "linux-install-docker", "count": 2},
    )
    text = with_extra_artifact(docker_text(life), "make")
    first = life.push({DOCKER_FILE: text}, "Add make")
    assert [t["status"] for t in tasks_of(first, "build")] == ["failed"]
    second = life.push({"NOTES.md": "retry make\n"}, "Try again")
    assert [t["status"] for t in tasks_of(second, "build")] == ["failed"]
    third = life.push({"NOTES.md": "and again\n"}, "And again")
    assert tasks_of(third, "build") == []  # disabled: the push skips it

    response = life.stack.api().post("/api/runs", json={"images": [DOCKER_IMAGE]})
    assert response.status_code == 202, response.text
    manual = wait_for_run(life.stack, response.json()["run_id"])
    assert manual["run"]["status"] == "succeeded", manual["run"]["error"]
    assert [t["status"] for t in tasks_of(manual, "build")] == ["succeeded"]
    expected = custom_image_name(DOCKER_IMAGE, tasks_of(manual, "build")[0]["version"])
    assert any(
        ci.name == expected for ci in life.factory_images(TEAM_WEB, DOCKER_IMAGE)
    )


def test_missing_role_fails_only_that_lab(life: Lifecycle) -> None:
    assignments = life.controls("role-assignments")["role_assignments"]
    kept = [a for a in assignments if not a["scope"].lower().endswith("/dtl-team-web")]
    assert len(kept) < len(assignments)
    with life.roles_replaced(kept):
        text = with_extra_artifact(docker_text(life), "unzip")
        run = life.push({DOCKER_FILE: text}, "Add unzip")
    assert run["run"]["status"] == "partially_succeeded"
    copies = {t["lab"]: t for t in tasks_of(run, "copy")}
    assert copies["team-web"]["status"] == "failed"
    assert "AuthorizationFailed" in copies["team-web"]["error"]
    assert copies["team-data"]["status"] == "succeeded"


def test_upload_sweep_after_missing_role(life: Lifecycle) -> None:
    # A blob in the upload container that the factory did not write.
    hand_made = BlobClient.from_blob_url(
        life.labs.upload_uri(TEAM_WEB, "handmade-notes.vhd")
    )
    hand_made.upload_blob(b"\0" * 512, blob_type="PageBlob", overwrite=True)
    assignments = life.controls("role-assignments")["role_assignments"]
    kept = [
        a
        for a in assignments
        if "/providers/microsoft.storage/" not in a["scope"].lower()
    ]
    assert len(kept) < len(assignments)
    with life.roles_replaced(kept):
        text = with_extra_artifact(docker_text(life), "zip")
        run = life.push({DOCKER_FILE: text}, "Add zip")
    # Without the data role the copies succeed and leave their uploads behind.
    assert run["run"]["status"] == "succeeded", run["run"]["error"]
    version = tasks_of(run, "build")[0]["version"]
    name = custom_image_name(DOCKER_IMAGE, version)
    left = BlobClient.from_blob_url(life.labs.upload_uri(TEAM_WEB, f"{name}.vhd"))
    assert left.exists()

    expiry = life.run_timer("expiry", trigger="expiry")
    assert expiry is not None
    assert expiry["run"]["status"] == "succeeded", expiry["run"]["error"]
    swept = [t for t in tasks_of(expiry, "retire") if t["target"] == "upload"]
    assert {t["phase"] for t in swept} == {"retired"}
    # Earlier tests can leave uploads too, such as a copy that failed on a role.
    mine = [t for t in swept if run["run"]["run_id"] in t["reason"]]
    assert len(mine) == len(tasks_of(run, "copy"))
    assert not left.exists()
    assert hand_made.exists()


def put_upload(
    life: Lifecycle, name: str, metadata: dict[str, str] | None
) -> BlobClient:
    """Write a small blob into team-web's upload container, straight into Azurite.

    generateUploadUri takes no '#' in a blob name, but a lab owner can still
    write such a blob with the storage account's own tools.
    """
    service = BlobServiceClient.from_connection_string(
        life.stack.storage_connection_string
    )
    blob = service.get_blob_client("dtl-team-web-uploads", name)
    blob.upload_blob(
        b"\0" * 512, blob_type="PageBlob", metadata=metadata, overwrite=True
    )
    return blob


def ended_run_id(life: Lifecycle) -> str:
    runs = life.stack.api().get("/api/runs").json()["runs"]
    return next(r["run_id"] for r in runs if r["status"] == "succeeded")


def test_upload_sweep_checks_names_and_owner(life: Lifecycle) -> None:
    ended = ended_run_id(life)
    leftovers = [
        put_upload(life, name, {"createdby": "imagefactory", "factoryrun": ended})
        for name in ("pct%41.vhd", "dir/sub dir/weird #1.vhd")
    ]
    # Blobs whose names the leftovers' names would decode to, and blobs that are
    # not this factory's: no metadata, no run id, or a run it has no record of.
    kept = [put_upload(life, name, None) for name in ("pctA.vhd", "dir/sub dir/weird ")]
    kept.append(put_upload(life, "no-run.vhd", {"createdby": "imagefactory"}))
    kept.append(
        put_upload(
            life,
            "other-factory.vhd",
            {"createdby": "imagefactory", "factoryrun": "staging-run-42"},
        )
    )

    expiry = life.run_timer("expiry", trigger="expiry")
    assert expiry is not None
    assert expiry["run"]["status"] == "succeeded", expiry["run"]["error"]

    assert [blob.blob_name for blob in leftovers if blob.exists()] == []
    assert [blob.blob_name for blob in kept if not blob.exists()] == []


def test_upload_sweep_without_delete_right(life: Lifecycle) -> None:
    leftover = put_upload(
        life,
        "read-only-leftover.vhd",
        {"createdby": "imagefactory", "factoryrun": ended_run_id(life)},
    )
    assignments = life.controls("role-assignments")["role_assignments"]
    readers = [
        {**a, "role": "Storage Blob Data Reader"}
        if "/providers/microsoft.storage/" in a["scope"].lower()
        else a
        for a in assignments
    ]
    with life.roles_replaced(readers):
        expiry = life.run_timer("expiry", trigger="expiry")

    # The run does not fail over a VHD it may not delete, and the task's reason names the role.
    assert expiry is not None
    assert expiry["run"]["status"] == "succeeded", expiry["run"]["error"]
    swept = [
        t
        for t in tasks_of(expiry, "retire")
        if t["target"] == "upload" and "read-only-leftover.vhd" in t["reason"]
    ]
    assert [t["phase"] for t in swept] == ["kept_no_access"]
    assert "AuthorizationPermissionMismatch" in swept[0]["reason"]
    assert "Image Factory upload cleaner" in swept[0]["reason"]
    assert leftover.exists()
