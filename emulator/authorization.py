"""Role-based access control over lab scopes.

Built-in roles carry the action patterns of their Azure definitions that
matter to the operations this emulator serves. Actions govern ARM
requests, and data actions govern requests to blob data on a lab's storage
account, as in Azure, where Owner and Contributor grant no data actions.
An assignment at a scope covers that scope and everything below it. An
assignment at a lab also covers the resource groups that the lab created
for its VMs' compute resources.

NOTE: in Azure, access to a lab VM's compute resource group, and so to its
OS disk, comes from DevTest Labs' own assignments there, which this
emulator folds into the lab scope. Test a least-privilege deployment's
disk operations against Azure. Conditions on role assignments (ABAC) are
not evaluated.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from emulator.errors import AuthorizationFailed
from emulator.wire import Principal


def _matches(operation: str, patterns: Iterable[str]) -> bool:
    lowered = operation.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)


@dataclass(frozen=True)
class RoleDefinition:
    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        return _matches(action, self.actions) and not _matches(action, self.not_actions)

    def allows_data_action(self, data_action: str) -> bool:
        return _matches(data_action, self.data_actions) and not _matches(
            data_action, self.not_data_actions
        )


BLOB_CONTAINERS = "Microsoft.Storage/storageAccounts/blobServices/containers"
BLOBS = f"{BLOB_CONTAINERS}/blobs"


# Action lists after the built-in role definitions of Azure RBAC
# (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
BUILT_IN_ROLES: dict[str, RoleDefinition] = {
    role.name.lower(): role
    for role in (
        RoleDefinition("Owner", ("*",)),
        RoleDefinition(
            "Contributor",
            ("*",),
            (
                "Microsoft.Authorization/*/Delete",
                "Microsoft.Authorization/*/Write",
                "Microsoft.Authorization/elevateAccess/Action",
            ),
        ),
        RoleDefinition("Reader", ("*/read",)),
        RoleDefinition(
            "DevTest Labs User",
            (
                "Microsoft.Authorization/*/read",
                "Microsoft.Compute/availabilitySets/read",
                "Microsoft.Compute/virtualMachines/*/read",
                "Microsoft.Compute/virtualMachines/deallocate/action",
                "Microsoft.Compute/virtualMachines/read",
                "Microsoft.Compute/virtualMachines/restart/action",
                "Microsoft.Compute/virtualMachines/start/action",
                "Microsoft.DevTestLab/*/read",
                "Microsoft.DevTestLab/labs/claimAnyVm/action",
                "Microsoft.DevTestLab/labs/createEnvironment/action",
                "Microsoft.DevTestLab/labs/ensureCurrentUserProfile/action",
                "Microsoft.DevTestLab/labs/formulas/delete",
                "Microsoft.DevTestLab/labs/formulas/read",
                "Microsoft.DevTestLab/labs/formulas/write",
                "Microsoft.DevTestLab/labs/policySets/evaluatePolicies/action",
                "Microsoft.DevTestLab/labs/virtualMachines/claim/action",
                "Microsoft.DevTestLab/labs/virtualmachines/listApplicableSchedules/action",
                "Microsoft.DevTestLab/labs/virtualMachines/getRdpFileContents/action",
                "Microsoft.Resources/deployments/operations/read",
                "Microsoft.Resources/deployments/read",
                "Microsoft.Resources/subscriptions/resourceGroups/read",
            ),
            ("Microsoft.Compute/virtualMachines/vmSizes/read",),
        ),
        RoleDefinition(
            "Storage Blob Data Owner",
            (
                f"{BLOB_CONTAINERS}/*",
                "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            ),
            data_actions=(f"{BLOBS}/*",),
        ),
        RoleDefinition(
            "Storage Blob Data Contributor",
            (
                f"{BLOB_CONTAINERS}/delete",
                f"{BLOB_CONTAINERS}/read",
                f"{BLOB_CONTAINERS}/write",
                "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            ),
            data_actions=(
                f"{BLOBS}/delete",
                f"{BLOBS}/read",
                f"{BLOBS}/write",
                f"{BLOBS}/move/action",
                f"{BLOBS}/add/action",
            ),
        ),
        RoleDefinition(
            "Storage Blob Data Reader",
            (
                f"{BLOB_CONTAINERS}/read",
                "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
            ),
            data_actions=(f"{BLOBS}/read",),
        ),
    )
}


@dataclass(frozen=True)
class RoleAssignment:
    principal_id: str
    role: str
    scope: str

    def covers(self, scope: str) -> bool:
        mine = self.scope.rstrip("/").lower()
        other = scope.rstrip("/").lower()
        return other == mine or other.startswith(mine + "/")


class AccessControl:
    """Decide whether a principal may perform an action at a scope."""

    def __init__(
        self,
        assignments: Iterable[RoleAssignment],
        custom_roles: Iterable[RoleDefinition] = (),
    ) -> None:
        self._lock = threading.Lock()
        self.roles = dict(BUILT_IN_ROLES)
        for role in custom_roles:
            self.roles[role.name.lower()] = role
        self._assignments: list[RoleAssignment] = []
        self.replace_assignments(assignments)

    @property
    def assignments(self) -> list[RoleAssignment]:
        with self._lock:
            return list(self._assignments)

    def replace_assignments(self, assignments: Iterable[RoleAssignment]) -> None:
        checked = list(assignments)
        for assignment in checked:
            if assignment.role.lower() not in self.roles:
                known = ", ".join(sorted(role.name for role in self.roles.values()))
                raise ValueError(
                    f"unknown role {assignment.role!r}. Known roles: {known}"
                )
        with self._lock:
            self._assignments = checked

    def is_allowed(
        self, principal: Principal, action: str, scopes: Sequence[str]
    ) -> bool:
        return any(role.allows(action) for role in self._roles_at(principal, scopes))

    def is_data_action_allowed(
        self, principal: Principal, data_action: str, scopes: Sequence[str]
    ) -> bool:
        return any(
            role.allows_data_action(data_action)
            for role in self._roles_at(principal, scopes)
        )

    def _roles_at(
        self, principal: Principal, scopes: Sequence[str]
    ) -> list[RoleDefinition]:
        """Return the roles that the principal's assignments give it at any of the scopes."""
        return [
            self.roles[assignment.role.lower()]
            for assignment in self.assignments
            if assignment.principal_id == principal.principal_id
            and any(assignment.covers(scope) for scope in scopes)
        ]

    def check(self, principal: Principal, action: str, scopes: Sequence[str]) -> None:
        """Raise AuthorizationFailed (403) unless an assignment grants the action."""
        if self.is_allowed(principal, action, scopes):
            return
        raise AuthorizationFailed(
            f"The client '{principal.principal_id}' with object id "
            f"'{principal.principal_id}' does not have authorization to perform "
            f"action '{action}' over scope '{scopes[0]}' or the scope is invalid. "
            "If access was recently granted, please refresh your credentials."
        )
