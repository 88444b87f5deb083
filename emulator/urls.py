"""The route table: every ARM path the emulator serves, with its RBAC action.

DevTest Labs routes need api-version 2018-09-15; compute routes accept the
api-version that the installed SDK sends.
"""

from __future__ import annotations

from emulator.compute.backend import ComputeBackend
from emulator.compute.responses import ComputeResponses
from emulator.devtestlab.models import lab_id
from emulator.devtestlab.responses import DevTestLabResponses
from emulator.routing import Handler, Route

SUBSCRIPTION = "/subscriptions/{subscription}"
GROUP = SUBSCRIPTION + "/resourceGroups/{resource_group}"
LABS = GROUP + "/providers/Microsoft.DevTestLab/labs"
LAB = LABS + "/{lab}"
DISKS = GROUP + "/providers/Microsoft.Compute/disks"
DTL_ACTION = "Microsoft.DevTestLab/labs"
DISK_ACTION = "Microsoft.Compute/disks"


def _lab_scope(params: dict[str, str]) -> list[str]:
    return [lab_id(params["subscription"], params["resource_group"], params["lab"])]


def devtestlab_routes(responses: DevTestLabResponses) -> list[Route]:
    def route(method: str, template: str, handler: Handler, action: str) -> Route:
        return Route(method, template, handler, action, _lab_scope)

    return [
        Route(
            "GET",
            SUBSCRIPTION + "/providers/Microsoft.DevTestLab/labs",
            responses.list_labs_in_subscription,
        ),
        Route("GET", LABS, responses.list_labs_in_group),
        route("GET", LAB, responses.get_lab, f"{DTL_ACTION}/read"),
        route(
            "POST",
            LAB + "/generateUploadUri",
            responses.generate_upload_uri,
            f"{DTL_ACTION}/generateUploadUri/action",
        ),
        route(
            "GET",
            LAB + "/virtualmachines",
            responses.list_vms,
            f"{DTL_ACTION}/virtualMachines/read",
        ),
        route(
            "GET",
            LAB + "/virtualmachines/{name}",
            responses.get_vm,
            f"{DTL_ACTION}/virtualMachines/read",
        ),
        route(
            "PUT",
            LAB + "/virtualmachines/{name}",
            responses.create_vm,
            f"{DTL_ACTION}/virtualMachines/write",
        ),
        route(
            "DELETE",
            LAB + "/virtualmachines/{name}",
            responses.delete_vm,
            f"{DTL_ACTION}/virtualMachines/delete",
        ),
        route(
            "GET",
            LAB + "/customimages",
            responses.list_custom_images,
            f"{DTL_ACTION}/customImages/read",
        ),
        route(
            "GET",
            LAB + "/customimages/{name}",
            responses.get_custom_image,
            f"{DTL_ACTION}/customImages/read",
        ),
        route(
            "PUT",
            LAB + "/customimages/{name}",
            responses.create_custom_image,
            f"{DTL_ACTION}/customImages/write",
        ),
        route(
            "DELETE",
            LAB + "/customimages/{name}",
            responses.delete_custom_image,
            f"{DTL_ACTION}/customImages/delete",
        ),
        route(
            "GET",
            LAB + "/artifactsources",
            responses.list_artifact_sources,
            f"{DTL_ACTION}/artifactSources/read",
        ),
        route(
            "GET",
            LAB + "/artifactsources/{name}",
            responses.get_artifact_source,
            f"{DTL_ACTION}/artifactSources/read",
        ),
        route(
            "GET",
            LAB + "/artifactsources/{source}/artifacts",
            responses.list_artifacts,
            f"{DTL_ACTION}/artifactSources/artifacts/read",
        ),
        route(
            "GET",
            LAB + "/artifactsources/{source}/artifacts/{name}",
            responses.get_artifact,
            f"{DTL_ACTION}/artifactSources/artifacts/read",
        ),
        Route(
            "GET",
            SUBSCRIPTION
            + "/providers/Microsoft.DevTestLab/locations/{location}/operations/{operation}",
            responses.get_operation,
        ),
        Route(
            "GET",
            SUBSCRIPTION
            + "/providers/Microsoft.DevTestLab/locations/{location}/operationResults/{operation}",
            responses.get_operation_result,
        ),
    ]


def compute_routes(responses: ComputeResponses, backend: ComputeBackend) -> list[Route]:
    def disk_scopes(params: dict[str, str]) -> list[str]:
        group = f"/subscriptions/{params['subscription']}/resourceGroups/{params['resource_group']}"
        scopes = [
            f"{group}/providers/Microsoft.Compute/disks/{params.get('disk', '')}".rstrip(
                "/"
            )
        ]
        owner = backend.owner_lab_id(params["subscription"], params["resource_group"])
        return scopes + ([owner] if owner else [])

    def route(method: str, template: str, handler: Handler, action: str) -> Route:
        return Route(
            method, template, handler, action, disk_scopes, "Microsoft.Compute"
        )

    return [
        route("GET", DISKS, responses.list_disks, f"{DISK_ACTION}/read"),
        route("GET", DISKS + "/{disk}", responses.get_disk, f"{DISK_ACTION}/read"),
        route(
            "POST",
            DISKS + "/{disk}/beginGetAccess",
            responses.begin_get_access,
            f"{DISK_ACTION}/beginGetAccess/action",
        ),
        route(
            "POST",
            DISKS + "/{disk}/endGetAccess",
            responses.end_get_access,
            f"{DISK_ACTION}/endGetAccess/action",
        ),
        Route(
            "GET",
            SUBSCRIPTION
            + "/providers/Microsoft.Compute/locations/{location}/operations/{operation}",
            responses.get_operation,
            provider="Microsoft.Compute",
        ),
    ]
