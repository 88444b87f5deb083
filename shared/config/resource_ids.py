"""ARM resource ids of DevTest Labs labs."""

from __future__ import annotations

import re
from dataclasses import dataclass

LAB_ID_FORM = (
    "/subscriptions/<subscription id>/resourceGroups/<resource group>"
    "/providers/Microsoft.DevTestLab/labs/<lab name>"
)

GUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# Azure naming rules: a resource group name has 1-90 letters, digits, "_", "(",
# ")", "-" and ".", and does not end with ".". A lab name has 1-50 letters,
# digits, "_" and "-".
RESOURCE_GROUP_RE = re.compile(r"[\w().-]{0,89}[\w()-]")
LAB_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,50}")


@dataclass(frozen=True)
class LabRef:
    """A DevTest Labs lab named by its ARM resource id.

    `id` is the canonical form: fixed segments spelled as ARM returns them and
    the subscription id in lowercase. Names keep the case they were given in
    (ARM compares them case-insensitively).
    """

    subscription_id: str
    resource_group: str
    name: str
    id: str


def parse_resource_id(value: object) -> LabRef:
    """Parse the ARM resource id of a DevTest Labs lab.

    Raises ValueError naming the value, what is wrong with it and the
    expected form.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a lab resource id. Expected {LAB_ID_FORM}.")

    parts = value.strip().strip("/").split("/")
    if not value.startswith("/") or len(parts) < 8 or not _has_arm_prefix(parts):
        raise ValueError(
            f"'{value}' is not an ARM resource id. Expected {LAB_ID_FORM}."
        )

    subscription_id, resource_group, provider, resource_type, name = (
        parts[1],
        parts[3],
        parts[5],
        parts[6],
        parts[7],
    )
    if provider.lower() != "microsoft.devtestlab" or resource_type.lower() != "labs":
        raise ValueError(
            f"'{value}' names a {provider}/{resource_type} resource, not a lab. "
            f"Expected a Microsoft.DevTestLab/labs id: {LAB_ID_FORM}."
        )
    if len(parts) > 8:
        raise ValueError(
            f"'{value}' names a resource inside lab '{name}', not the lab itself. "
            f"Use the lab's own id: {LAB_ID_FORM}."
        )
    _check_parts(value, subscription_id, resource_group, name)

    canonical = (
        f"/subscriptions/{subscription_id.lower()}/resourceGroups/{resource_group}"
        f"/providers/Microsoft.DevTestLab/labs/{name}"
    )
    return LabRef(subscription_id.lower(), resource_group, name, canonical)


def _has_arm_prefix(parts: list[str]) -> bool:
    return (
        parts[0].lower() == "subscriptions"
        and parts[2].lower() == "resourcegroups"
        and parts[4].lower() == "providers"
    )


def _check_parts(
    value: str, subscription_id: str, resource_group: str, name: str
) -> None:
    if not GUID_RE.fullmatch(subscription_id):
        raise ValueError(
            f"'{value}' has subscription id '{subscription_id}', which is not a "
            "GUID. Use the subscription's id, such as "
            "6d2c4f3a-1b7e-4c9a-9f5d-2a8e7b3c1d40."
        )
    if not RESOURCE_GROUP_RE.fullmatch(resource_group):
        raise ValueError(
            f"'{value}' has an invalid resource group name '{resource_group}'. "
            "Resource group names have 1 to 90 letters, digits, '_', '(', ')', '-' "
            "or '.', and do not end with '.'."
        )
    if not LAB_NAME_RE.fullmatch(name):
        raise ValueError(
            f"'{value}' has an invalid lab name '{name}'. "
            "Lab names have 1 to 50 letters, digits, '_' or '-'."
        )
