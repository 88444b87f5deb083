"""Unit tests of the emulator's pure parts: VHD, clock, buckets, faults, routes, checks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from emulator import errors, vhd
from emulator.authorization import (
    BLOBS,
    BUILT_IN_ROLES,
    AccessControl,
    RoleAssignment,
)
from emulator.catalog import ArtifactCatalog
from emulator.clock import ScaledClock
from emulator.devtestlab.models import (
    Lab,
    container_slug,
    dtl_style,
    find_upload_blob,
    resolve_role_scope,
)
from emulator.devtestlab.validation import check_vm_name, resolve_artifacts
from emulator.faults import FaultInjector
from emulator.routing import Route, Router
from emulator.seed import SeedError, default_seed, load_seed
from emulator.storageplane import (
    BlobPermission,
    BlobTarget,
    rename_listing,
    required_permission,
    split_target,
)
from emulator.storageproxy import forwarded_request_headers, returned_response_headers
from emulator.throttling import Throttle
from emulator.wire import Principal, Response

CATALOG = ArtifactCatalog.load()
LAB = Lab(
    subscription_id="s",
    resource_group="rg",
    name="lab",
    location="westeurope",
    kind="factory",
    container_prefix="lab",
    created="2026-01-01T00:00:00+00:00",
)


class FakeWall:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _requested(name: str, **parameters: str) -> dict[str, object]:
    return {
        "artifactId": f"/artifactsources/public repo/artifacts/{name}",
        "parameters": [
            {"name": key, "value": value} for key, value in parameters.items()
        ],
    }


def test_vhd_footer_round_trip() -> None:
    unique_id = uuid.uuid4()
    footer = vhd.build_footer(
        vhd.DATA_BYTES, unique_id, datetime(2026, 1, 1, tzinfo=UTC)
    )

    parsed = vhd.parse_footer(footer)

    assert footer[:8] == b"conectix"
    assert len(footer) == vhd.SECTOR_BYTES
    assert parsed.current_size == vhd.DATA_BYTES
    assert parsed.disk_type == 2
    assert parsed.unique_id == unique_id


def test_vhd_footer_checksum_is_checked() -> None:
    footer = bytearray(
        vhd.build_footer(vhd.DATA_BYTES, uuid.uuid4(), datetime.now(UTC))
    )
    footer[40] ^= 0xFF

    with pytest.raises(vhd.InvalidVhdError, match="checksum"):
        vhd.parse_footer(bytes(footer))


def test_vhd_disk_is_sector_aligned_with_record() -> None:
    disk = vhd.build_disk({"artifacts": ["a"]}, uuid.uuid4(), datetime.now(UTC))

    assert len(disk) == vhd.DISK_BYTES
    assert len(disk) % vhd.SECTOR_BYTES == 0
    assert vhd.decode_record(disk) == {"artifacts": ["a"], "format": vhd.RECORD_FORMAT}


def test_vhd_record_of_foreign_bytes_is_none() -> None:
    assert vhd.decode_record(b"\0" * 1024) is None
    assert vhd.decode_record(b'{"format": "other"}') is None


def test_clock_scales_wall_time() -> None:
    wall = FakeWall()
    clock = ScaledClock(0.01, wall=wall)
    start = clock.now()

    wall.now += 1.0

    assert clock.now() - start == pytest.approx(100.0)
    assert clock.wall_seconds(100.0) == pytest.approx(1.0)


def test_clock_scale_change_keeps_time_continuous() -> None:
    wall = FakeWall()
    clock = ScaledClock(0.01, wall=wall)
    wall.now += 1.0
    before = clock.now()

    clock.set_scale(1.0)
    wall.now += 1.0

    assert clock.now() - before == pytest.approx(1.0)


def test_clock_rejects_zero_scale() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        ScaledClock(0)


def test_throttle_refills_in_emulated_time() -> None:
    wall = FakeWall()
    throttle = Throttle(ScaledClock(1.0, wall=wall))
    throttle.configure({"writes": {"capacity": 2, "refill_per_second": 1}})

    throttle.take("sub", "PUT")
    throttle.take("sub", "PUT")
    with pytest.raises(errors.SubscriptionRequestsThrottled) as raised:
        throttle.take("sub", "POST")
    wall.now += 1.0
    headers = throttle.take("sub", "PUT")

    assert raised.value.headers["Retry-After"] == "1"
    assert headers == {"x-ms-ratelimit-remaining-subscription-writes": "0"}


def test_throttle_buckets_per_category() -> None:
    throttle = Throttle(ScaledClock(1.0, wall=FakeWall()))

    assert throttle.take("sub", "GET") == {
        "x-ms-ratelimit-remaining-subscription-reads": "249"
    }
    assert throttle.take("sub", "DELETE") == {
        "x-ms-ratelimit-remaining-subscription-deletes": "199"
    }


def test_fault_count_limits_injections() -> None:
    faults = FaultInjector()
    faults.add({"kind": "error", "status": 503, "count": 2})

    results = [faults.for_request("GET", "/subscriptions/x") for _ in range(3)]

    assert [None if item is None else item.status for item in results] == [
        503,
        503,
        None,
    ]


def test_fault_path_and_method_filter() -> None:
    faults = FaultInjector()
    faults.add({"kind": "drop", "method": "PUT", "path": "/virtualmachines/"})

    assert faults.for_request("GET", "/subscriptions/x/virtualmachines/a") is None
    assert faults.for_request("PUT", "/subscriptions/x/customimages/a") is None
    assert faults.for_request("PUT", "/subscriptions/x/virtualmachines/a") is not None


def test_fault_artifact_rule_matches_name_only() -> None:
    faults = FaultInjector()
    faults.add({"kind": "artifact_failure", "artifact": "windows-7zip"})

    assert faults.for_resource("artifact_failure", "windows-git") is None
    assert faults.for_resource("artifact_failure", "WINDOWS-7ZIP") is not None


def test_fault_rule_rejects_unknown_fields() -> None:
    with pytest.raises(errors.InvalidControlRequest, match="colour"):
        FaultInjector().add({"kind": "slow", "colour": "red"})


def test_router_matches_case_insensitive_literals() -> None:
    route = Route(
        "GET", "/labs/{lab}/virtualmachines/{name}", lambda request: Response(200)
    )
    router = Router([route])

    found, params = router.resolve("GET", "/LABS/my%20lab/virtualMachines/vm1")

    assert found is route
    assert params == {"lab": "my lab", "name": "vm1"}


def test_router_unknown_path_raises_invalid_resource_type() -> None:
    with pytest.raises(errors.InvalidResourceType):
        Router([]).resolve("GET", "/anything")


def test_vm_name_rules() -> None:
    check_vm_name("build-win-01", "Windows")
    check_vm_name("a-linux-host-name-that-is-longer-than-fifteen", "Linux")

    for bad in ("sixteen-chars-xx", "-leading", "trailing-", "1234", "under_score"):
        with pytest.raises(errors.InvalidParameter):
            check_vm_name(bad, "Windows")


def test_artifact_defaults_fill_optional_parameters() -> None:
    resolved = resolve_artifacts(
        [_requested("windows-chocolatey", packages="git")], LAB, "Windows", CATALOG
    )

    assert resolved[0].definition.name == "windows-chocolatey"
    assert resolved[0].parameters == [{"name": "packages", "value": "git"}]


def test_artifact_allowed_values_are_checked() -> None:
    with pytest.raises(errors.InvalidArtifactParameter, match="one of true, false"):
        resolve_artifacts(
            [_requested("linux-apt-package", packages="git", update="yes")],
            LAB,
            "Linux",
            CATALOG,
        )


def test_artifact_array_parameter_needs_json_array() -> None:
    with pytest.raises(errors.InvalidArtifactParameter, match="JSON array"):
        resolve_artifacts(
            [_requested("windows-test-paramtypes", arrayParam="a,b")],
            LAB,
            "Windows",
            CATALOG,
        )


def test_catalog_marks_generalizing_artifacts() -> None:
    assert CATALOG.get("windows-sysprep").generalizes  # type: ignore[union-attr]
    assert CATALOG.get("linux-deprovision").generalizes  # type: ignore[union-attr]
    assert not CATALOG.get("windows-restart").generalizes  # type: ignore[union-attr]


def test_container_slug_is_valid_container_prefix() -> None:
    assert container_slug("dtl-image-factory") == "dtl-image-factory"
    assert container_slug("My_Lab") == "my-lab"
    assert len(container_slug("x" * 60)) <= 48


def test_dtl_style_lowercases_fixed_segments() -> None:
    lab_id = (
        "/subscriptions/s/resourceGroups/RG/providers/Microsoft.DevTestLab/labs/Lab"
    )

    assert (
        dtl_style(lab_id)
        == "/subscriptions/s/resourcegroups/RG/providers/microsoft.devtestlab/labs/Lab"
    )


def test_default_seed_matches_contract() -> None:
    seed = default_seed()
    assignments = seed.effective_role_assignments()

    assert [lab.name for lab in seed.labs] == [
        "dtl-image-factory",
        "dtl-team-web",
        "dtl-team-data",
        "dtl-team-qa",
    ]
    assert {lab.resource_group for lab in seed.labs} == {"rg-imagefactory"}
    assert [(a.role, a.lab) for a in assignments if a.lab] == [
        ("Contributor", lab.name) for lab in seed.labs
    ]
    assert [(a.role, a.lab_storage) for a in assignments if a.lab_storage] == [
        ("Storage Blob Data Contributor", lab.name) for lab in seed.labs
    ]
    assert len(assignments) == 8


def test_seed_rejects_two_factory_labs(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "labs:\n"
        "  - {name: a, resource_group: rg, kind: factory}\n"
        "  - {name: b, resource_group: rg, kind: factory}\n",
        encoding="utf-8",
    )

    with pytest.raises(SeedError, match="at most one lab"):
        load_seed(path)


def test_seed_role_assignment_needs_one_scope(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "labs:\n"
        "  - {name: a, resource_group: rg}\n"
        "role_assignments:\n"
        "  - {identity: system, role: Reader, lab: a, lab_storage: a}\n",
        encoding="utf-8",
    )

    with pytest.raises(SeedError, match="exactly one of 'lab', 'lab_storage'"):
        load_seed(path)


def test_seed_custom_role_with_data_actions_only(tmp_path: Path) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(
        "labs:\n"
        "  - {name: a, resource_group: rg}\n"
        "custom_roles:\n"
        "  - name: Upload Cleaner\n"
        "    data_actions: [Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete]\n",
        encoding="utf-8",
    )

    role = load_seed(path).custom_roles[0]

    assert role.actions == []
    assert role.data_actions == [
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"
    ]


def test_resolve_role_scope_forms() -> None:
    assert resolve_role_scope([LAB], lab="LAB") == LAB.id
    assert resolve_role_scope([LAB], lab_storage="lab") == LAB.storage_account_id
    assert resolve_role_scope([LAB], scope="/subscriptions/s") == "/subscriptions/s"
    with pytest.raises(ValueError, match="unknown lab 'other'"):
        resolve_role_scope([LAB], lab_storage="other")
    with pytest.raises(ValueError, match="exactly one"):
        resolve_role_scope([LAB], lab="lab", scope="/subscriptions/s")


@pytest.mark.parametrize(
    ("role", "data_action", "allowed"),
    [
        ("Owner", f"{BLOBS}/read", False),
        ("Contributor", f"{BLOBS}/delete", False),
        ("Reader", f"{BLOBS}/read", False),
        ("Storage Blob Data Reader", f"{BLOBS}/read", True),
        ("Storage Blob Data Reader", f"{BLOBS}/delete", False),
        ("Storage Blob Data Contributor", f"{BLOBS}/delete", True),
        ("Storage Blob Data Contributor", f"{BLOBS}/write", True),
        ("Storage Blob Data Contributor", f"{BLOBS}/tags/write", False),
        ("Storage Blob Data Owner", f"{BLOBS}/tags/write", True),
    ],
)
def test_built_in_role_data_actions(role: str, data_action: str, allowed: bool) -> None:
    assert BUILT_IN_ROLES[role.lower()].allows_data_action(data_action) is allowed


def test_data_actions_need_assignment_above_scope() -> None:
    principal = Principal("p", None, "system")
    container = f"{LAB.storage_account_id}/blobServices/default/containers/uploads"
    access = AccessControl(
        [
            RoleAssignment("p", "Contributor", LAB.id),
            RoleAssignment("p", "Storage Blob Data Reader", LAB.storage_account_id),
        ]
    )

    assert access.is_data_action_allowed(principal, f"{BLOBS}/read", [container])
    assert not access.is_data_action_allowed(principal, f"{BLOBS}/delete", [container])
    assert not access.is_data_action_allowed(principal, f"{BLOBS}/read", [LAB.id])


def test_find_upload_blob_checks_account_and_container() -> None:
    account = LAB.storage_account_name

    assert find_upload_blob([LAB], f"https://h/{account}/uploads/a%20b.vhd?sig=x") == (
        LAB,
        "a b.vhd",
    )
    assert find_upload_blob([LAB], f"https://h/{account}/vhds/a.vhd") is None
    assert find_upload_blob([LAB], f"https://h/{account}/uploads/") is None
    assert find_upload_blob([LAB], "https://h/other/uploads/a.vhd") is None


@pytest.mark.parametrize(
    ("method", "path", "comp", "expected"),
    [
        ("GET", "a.vhd", None, (f"{BLOBS}/read", "r")),
        ("HEAD", "a.vhd", None, (f"{BLOBS}/read", "r")),
        ("PUT", "a.vhd", None, (f"{BLOBS}/write", "cw")),
        ("PUT", "a.vhd", "page", (f"{BLOBS}/write", "cw")),
        ("DELETE", "a.vhd", None, (f"{BLOBS}/delete", "d")),
        ("PUT", "a.vhd", "tags", (f"{BLOBS}/tags/write", "t")),
        ("GET", "", "list", (f"{BLOBS}/read", "rl")),
        ("PUT", "", None, None),
        ("DELETE", "", None, None),
        ("POST", "a.vhd", None, None),
    ],
)
def test_blob_operation_permissions(
    method: str, path: str, comp: str | None, expected: tuple[str, str] | None
) -> None:
    permission = required_permission(method, BlobTarget(LAB, "uploads", path), comp)

    if expected is None:
        assert permission is None
    else:
        assert permission == BlobPermission(*expected)


def test_split_target_of_lab_account() -> None:
    account = LAB.storage_account_name
    accounts = {account: LAB}

    assert split_target(f"/{account}/uploads/dir/a%20b.vhd", accounts) == BlobTarget(
        LAB, "uploads", "dir/a%20b.vhd"
    )
    assert split_target(f"/{account}/uploads", accounts) == BlobTarget(
        LAB, "uploads", ""
    )
    assert split_target(f"/{account.upper()}", accounts) == BlobTarget(LAB, "", "")
    assert split_target("/subscriptions/s/resourceGroups", accounts) is None


def test_proxy_drops_hop_by_hop_request_headers() -> None:
    headers = [
        ("Host", "127.0.0.1:1"),
        ("Authorization", "Bearer x"),
        ("Connection", "keep-alive, X-Trace"),
        ("X-Trace", "1"),
        ("Keep-Alive", "timeout=5"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "3"),
        ("x-ms-meta-FactoryRun", "run-1"),
        ("x-ms-copy-source", "http://127.0.0.1:10000/a/b?sig=s"),
        ("Range", "bytes=0-511"),
    ]

    assert forwarded_request_headers(headers) == [
        ("x-ms-meta-FactoryRun", "run-1"),
        ("x-ms-copy-source", "http://127.0.0.1:10000/a/b?sig=s"),
        ("Range", "bytes=0-511"),
    ]


def test_proxy_returns_end_to_end_response_headers() -> None:
    headers = [
        ("Content-Length", "10"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("x-ms-meta-a", "1"),
        ("Vary", "Origin"),
        ("Vary", "Accept"),
    ]

    assert returned_response_headers(headers) == {
        "Content-Length": "10",
        "x-ms-meta-a": "1",
        "Vary": "Origin, Accept",
    }


def test_rename_listing_sets_endpoint_and_container() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
        b'ServiceEndpoint="http://127.0.0.1:10000/devstoreaccount1" '
        b'ContainerName="lab-uploads"><Blobs/></EnumerationResults>'
    )

    renamed = rename_listing(body, "https://127.0.0.1:4/acct/", "uploads")

    assert renamed == (
        b'<?xml version="1.0" encoding="utf-8"?><EnumerationResults '
        b'ServiceEndpoint="https://127.0.0.1:4/acct/" '
        b'ContainerName="uploads"><Blobs/></EnumerationResults>'
    )
