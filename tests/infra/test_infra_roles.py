"""Least-privilege checks of the role definitions and role assignments."""

from __future__ import annotations

import pytest
from infra_bicep import (
    MAIN_BICEP,
    REPO_ROOT,
    BicepFile,
    Resource,
    bicep_files,
    load,
    walk,
)

FILES = bicep_files()
MODULES = MAIN_BICEP.parent / "modules"

STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
STORAGE_QUEUE_DATA_CONTRIBUTOR = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
MONITORING_METRICS_PUBLISHER = "3913510d-42f4-4e42-8a64-420c390055eb"
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
# Built-in roles far wider than anything the factory does.
BROAD_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": "Storage Account Contributor",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
}

# The exact actions of each custom role. A change here is a change of the factory's
# permissions in every lab, so it must be deliberate and explained in docs/deploy.md.
EXPECTED_CUSTOM_ROLES = {
    "labBuilder": {
        "Microsoft.DevTestLab/labs/read",
        "Microsoft.DevTestLab/labs/virtualMachines/read",
        "Microsoft.DevTestLab/labs/virtualMachines/write",
        "Microsoft.DevTestLab/labs/virtualMachines/delete",
        "Microsoft.DevTestLab/labs/artifactSources/read",
        "Microsoft.DevTestLab/labs/artifactSources/artifacts/read",
        "Microsoft.DevTestLab/labs/galleryImages/read",
        "Microsoft.DevTestLab/labs/customImages/read",
        "Microsoft.DevTestLab/labs/virtualNetworks/read",
    },
    "labDistributor": {
        "Microsoft.DevTestLab/labs/read",
        "Microsoft.DevTestLab/labs/GenerateUploadUri/action",
        "Microsoft.DevTestLab/labs/customImages/read",
        "Microsoft.DevTestLab/labs/customImages/write",
        "Microsoft.DevTestLab/labs/customImages/delete",
        "Microsoft.DevTestLab/labs/virtualMachines/read",
    },
    "diskReader": {
        "Microsoft.Compute/disks/read",
        "Microsoft.Compute/disks/beginGetAccess/action",
        "Microsoft.Compute/disks/endGetAccess/action",
    },
    "uploadCleaner": set(),
}
# Data actions, likewise; roles not named here have none.
EXPECTED_CUSTOM_DATA_ACTIONS = {
    "uploadCleaner": {
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
    },
}


def _role_assignments() -> list[tuple[BicepFile, Resource]]:
    return [
        (bicep, resource)
        for bicep in FILES
        for resource in bicep.resources_of_type(
            "Microsoft.Authorization/roleAssignments"
        )
    ]


def _role_definitions() -> dict[str, tuple[BicepFile, Resource]]:
    roles = load(MODULES / "lab-roles.bicep")
    return {
        r.symbol: (roles, r)
        for r in roles.resources_of_type("Microsoft.Authorization/roleDefinitions")
    }


def _string_list(bicep: BicepFile, key: str, within: Resource) -> list[str]:
    arrays = bicep.properties(key, within.body)
    assert len(arrays) == 1, f"expected one {key} array in {within.symbol}"
    return [
        bicep.text(node)[1:-1]
        for node in arrays[0].named_children
        if node.type == "string"
    ]


def _app_role_assignments() -> list[tuple[BicepFile, Resource]]:
    """Return the role assignments for the app's identity (all but the deployer's)."""
    return [(b, r) for b, r in _role_assignments() if r.symbol != "officerAssignment"]


def _assignment_ids(assignments: list[tuple[BicepFile, Resource]]) -> list[str]:
    return [f"{bicep.relative}:{resource.symbol}" for bicep, resource in assignments]


def test_storage_module_assigns_the_three_data_roles() -> None:
    storage = load(MODULES / "storage.bicep")
    role_ids = [
        storage.text(v)
        for v in storage.properties("id", storage.variables["dataRoles"])
    ]

    assert sorted(role_ids) == sorted(
        f"'{role}'"
        for role in (
            STORAGE_BLOB_DATA_OWNER,
            STORAGE_QUEUE_DATA_CONTRIBUTOR,
            STORAGE_TABLE_DATA_CONTRIBUTOR,
        )
    )


def test_storage_roles_are_scoped_to_the_account() -> None:
    storage = load(MODULES / "storage.bicep")
    (assignment,) = storage.resources_of_type("Microsoft.Authorization/roleAssignments")

    assert storage.property_texts("scope", assignment.body) == ["account"]


def test_metrics_publisher_is_scoped_to_application_insights() -> None:
    monitoring = load(MODULES / "monitoring.bicep")
    (assignment,) = monitoring.resources_of_type(
        "Microsoft.Authorization/roleAssignments"
    )

    assert monitoring.text(
        monitoring.variables["monitoringMetricsPublisherRoleId"]
    ) == (f"'{MONITORING_METRICS_PUBLISHER}'")
    assert monitoring.property_texts("scope", assignment.body) == [
        "applicationInsights"
    ]


def test_app_identity_reads_key_vault_secrets_only() -> None:
    vault = load(MODULES / "keyvault.bicep")
    reader = next(r for r in vault.resources if r.symbol == "readerAssignment")

    assert (
        vault.text(vault.variables["secretsUserRoleId"])
        == f"'{KEY_VAULT_SECRETS_USER}'"
    )
    assert "secretsUserRoleId" in vault.text(reader.body)
    assert vault.property_texts("principalId", reader.body) == ["readerPrincipalId"]
    assert vault.property_texts("scope", reader.body) == ["vault"]


def test_deployer_gets_secrets_officer_when_named() -> None:
    vault = load(MODULES / "keyvault.bicep")
    officer = next(r for r in vault.resources if r.symbol == "officerAssignment")
    declaration = vault.source.decode().splitlines()[officer.line - 1]

    assert (
        vault.text(vault.variables["secretsOfficerRoleId"])
        == f"'{KEY_VAULT_SECRETS_OFFICER}'"
    )
    assert "if (!empty(officerPrincipalId))" in declaration


@pytest.mark.parametrize("bicep", FILES, ids=[f.relative for f in FILES])
def test_no_broad_built_in_role(bicep: BicepFile) -> None:
    text = bicep.source.decode().lower()

    assert [name for role, name in BROAD_ROLES.items() if role in text] == []


@pytest.mark.parametrize(
    ("bicep", "assignment"),
    _role_assignments(),
    ids=_assignment_ids(_role_assignments()),
)
def test_role_assignment_name_is_deterministic(
    bicep: BicepFile, assignment: Resource
) -> None:
    (name,) = bicep.property_texts("name", assignment.body)

    assert name.startswith("guid(")


@pytest.mark.parametrize(
    ("bicep", "assignment"),
    _role_assignments(),
    ids=_assignment_ids(_role_assignments()),
)
def test_role_assignment_states_its_purpose(
    bicep: BicepFile, assignment: Resource
) -> None:
    assert len(bicep.properties("description", assignment.body)) == 1


@pytest.mark.parametrize(
    ("bicep", "assignment"),
    _app_role_assignments(),
    ids=_assignment_ids(_app_role_assignments()),
)
def test_app_role_assignment_names_service_principal(
    bicep: BicepFile, assignment: Resource
) -> None:
    assert bicep.property_texts("principalType", assignment.body) == [
        "'ServicePrincipal'"
    ]


def test_deployer_assignment_leaves_principal_type_open() -> None:
    # The deploying principal can be a user or a service principal (a pipeline).
    vault = load(MODULES / "keyvault.bicep")
    officer = next(r for r in vault.resources if r.symbol == "officerAssignment")

    assert vault.property_texts("principalType", officer.body) == []


def test_custom_roles_have_exact_actions() -> None:
    definitions = _role_definitions()

    assert set(definitions) == set(EXPECTED_CUSTOM_ROLES)
    for symbol, (roles, definition) in definitions.items():
        assert (
            set(_string_list(roles, "actions", definition))
            == EXPECTED_CUSTOM_ROLES[symbol]
        )
        assert set(
            _string_list(roles, "dataActions", definition)
        ) == EXPECTED_CUSTOM_DATA_ACTIONS.get(symbol, set())


def test_custom_roles_have_no_wildcards() -> None:
    for roles, definition in _role_definitions().values():
        actions = _string_list(roles, "actions", definition)

        actions += _string_list(roles, "dataActions", definition)

        assert not [action for action in actions if "*" in action], definition.symbol
        assert roles.property_texts("notActions", definition.body) == ["[]"]
        assert roles.property_texts("notDataActions", definition.body) == ["[]"]


def test_custom_roles_assignable_in_lab_subscriptions() -> None:
    roles = load(MODULES / "lab-roles.bicep")
    scopes = roles.text(roles.variables["assignableScopes"])

    assert "labSubscriptionIds" in scopes
    for _, definition in _role_definitions().values():
        assert roles.property_texts("assignableScopes", definition.body) == [
            "assignableScopes"
        ]


def test_custom_role_names_are_unique_per_environment() -> None:
    for roles, definition in _role_definitions().values():
        (role_name,) = roles.property_texts("roleName", definition.body)
        (name,) = roles.property_texts("name", definition.body)

        assert "${roleNameSuffix}" in role_name
        assert "roleNameSuffix" in name


@pytest.mark.parametrize(
    ("module_symbol", "role_output"),
    [
        ("factoryLabAccess", "labBuilderRoleName"),
        ("teamLabAccess", "labDistributorRoleName"),
        ("factoryDiskAccess", "diskReaderRoleName"),
        ("teamLabUploadsAccess", "uploadCleanerRoleName"),
        ("factoryLabUploadsAccess", "uploadCleanerRoleName"),
    ],
)
def test_lab_scopes_get_their_own_role(module_symbol: str, role_output: str) -> None:
    main = load(MAIN_BICEP)
    (call,) = [m for m in main.modules if m.symbol == module_symbol]

    assert (
        main.text(call.params["roleDefinitionName"])
        == f"labRoles.outputs.{role_output}"
    )
    assert main.text(call.params["principalId"]) == "identity.outputs.principalId"


def test_lab_access_deployed_at_lab_groups() -> None:
    main = load(MAIN_BICEP)
    scopes = {
        call.symbol: main.property_texts("scope", call.body)[0]
        for call in main.modules
        if call.path.name
        in ("lab-access.bicep", "disk-access.bicep", "lab-uploads-access.bicep")
    }

    assert scopes["factoryLabAccess"] == (
        "resourceGroup(split(factoryLabId, '/')[2], split(factoryLabId, '/')[4])"
    )
    assert (
        scopes["teamLabAccess"]
        == "resourceGroup(split(labId, '/')[2], split(labId, '/')[4])"
    )
    assert scopes["teamLabUploadsAccess"] == scopes["teamLabAccess"]
    assert scopes["factoryLabUploadsAccess"] == scopes["factoryLabAccess"]
    assert scopes["factoryDiskAccess"] == (
        "resourceGroup(split(factoryLabId, '/')[2], factoryVmResourceGroupName)"
    )


def test_lab_assignment_is_scoped_to_the_lab() -> None:
    access = load(MODULES / "lab-access.bicep")
    (assignment,) = access.resources_of_type("Microsoft.Authorization/roleAssignments")
    (lab,) = access.resources_of_type("Microsoft.DevTestLab/labs")

    assert lab.existing
    assert access.property_texts("scope", assignment.body) == ["lab"]


def test_deploy_guide_explains_every_custom_action() -> None:
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    actions = set().union(*EXPECTED_CUSTOM_ROLES.values())

    assert sorted(action for action in actions if action not in guide) == []


def test_deploy_guide_names_every_built_in_role() -> None:
    guide = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    names = [
        "Storage Blob Data Owner",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Monitoring Metrics Publisher",
        "Key Vault Secrets User",
        "Key Vault Secrets Officer",
        "DevTest Labs User",
    ]

    assert [name for name in names if name not in guide] == []


def test_every_role_id_in_templates_is_known() -> None:
    known = {
        STORAGE_BLOB_DATA_OWNER,
        STORAGE_QUEUE_DATA_CONTRIBUTOR,
        STORAGE_TABLE_DATA_CONTRIBUTOR,
        MONITORING_METRICS_PUBLISHER,
        KEY_VAULT_SECRETS_USER,
        KEY_VAULT_SECRETS_OFFICER,
    }
    found = set()
    for bicep in FILES:
        for node in walk(bicep.root):
            if node.type == "string_content":
                text = bicep.text(node)
                if len(text) == 36 and text.count("-") == 4:
                    found.add(text)

    assert found == known


def test_upload_cleaner_is_scoped_to_the_upload_container() -> None:
    access = load(MODULES / "lab-uploads-access.bicep")
    (assignment,) = access.resources_of_type("Microsoft.Authorization/roleAssignments")
    (storage,) = access.resources_of_type("Microsoft.Storage/storageAccounts")
    (condition,) = access.property_texts("condition", assignment.body)

    assert storage.existing
    assert access.property_texts("scope", assignment.body) == [storage.symbol]
    assert access.property_texts("conditionVersion", assignment.body) == ["'2.0'"]
    assert "containers:name] StringEquals" in condition
    assert access.text(access.variables["uploadContainerName"]) == "'uploads'"
