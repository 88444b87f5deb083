"""ARM resource ids of DevTest Labs labs."""

from __future__ import annotations

import pytest

from shared.config import LabRef, parse_resource_id

from .helpers import LAB_PREFIX, SUBSCRIPTION


def test_parse_resource_id_parts() -> None:
    lab = parse_resource_id(LAB_PREFIX + "dtl-team-web")

    assert lab == LabRef(
        subscription_id=SUBSCRIPTION,
        resource_group="rg-imagefactory",
        name="dtl-team-web",
        id=LAB_PREFIX + "dtl-team-web",
    )


def test_parse_resource_id_canonical_casing() -> None:
    value = (
        f"/SUBSCRIPTIONS/{SUBSCRIPTION.upper()}/resourcegroups/RG-ImageFactory"
        "/providers/microsoft.devtestlab/LABS/Dtl-Team-Web/"
    )

    lab = parse_resource_id(value)

    assert lab.id == (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/RG-ImageFactory"
        "/providers/Microsoft.DevTestLab/labs/Dtl-Team-Web"
    )


def test_parse_resource_id_frozen() -> None:
    lab = parse_resource_id(LAB_PREFIX + "dtl-team-web")

    with pytest.raises(AttributeError):
        lab.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "is not a lab resource id"),
        (None, "is not a lab resource id"),
        ("dtl-team-web", "is not an ARM resource id"),
        (
            f"subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/x",
            "is not an ARM resource id",
        ),
        (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg",
            "is not an ARM resource id",
        ),
        (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x",
            "names a Microsoft.Compute/virtualMachines resource, not a lab",
        ),
        (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.DevTestLab/schedules/x",
            "names a Microsoft.DevTestLab/schedules resource, not a lab",
        ),
        (LAB_PREFIX + "dtl/customimages/img", "names a resource inside lab 'dtl'"),
        (
            "/subscriptions/1234/resourceGroups/rg/providers/Microsoft.DevTestLab/labs/x",
            "which is not a GUID",
        ),
        (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg./providers/Microsoft.DevTestLab/labs/x",
            "invalid resource group name 'rg.'",
        ),
        (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{'r' * 91}/providers/Microsoft.DevTestLab/labs/x",
            "invalid resource group name",
        ),
        (LAB_PREFIX + "lab.name", "invalid lab name 'lab.name'"),
        (LAB_PREFIX + "x" * 51, "invalid lab name"),
    ],
)
def test_parse_resource_id_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_resource_id(value)

    assert message in str(caught.value)
    assert (
        "Microsoft.DevTestLab/labs" in str(caught.value)
        or "GUID" in str(caught.value)
        or ("names have" in str(caught.value))
    )
