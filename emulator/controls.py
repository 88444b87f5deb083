"""Test controls under /_emulator/, outside the ARM path space.

They need no token and are never throttled, faulted or logged. Every body
is JSON; emulator/README.md documents each control.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator import errors, vhd
from emulator.authorization import AccessControl, RoleAssignment
from emulator.blobs import BlobStore
from emulator.clock import ScaledClock
from emulator.devtestlab.models import find_upload_blob, resolve_role_scope
from emulator.errors import InvalidControlRequest
from emulator.faults import FaultInjector
from emulator.identity import ManagedIdentity
from emulator.requestlog import RequestLog
from emulator.routing import Route, Router
from emulator.state import EmulatorState
from emulator.throttling import CATEGORIES, Throttle
from emulator.wire import Request, Response

logger = logging.getLogger(__name__)

PREFIX = "/_emulator"
DEFAULT_LOG_LIMIT = 1000


@dataclass
class ControlDependencies:
    state: EmulatorState
    clock: ScaledClock
    faults: FaultInjector
    throttle: Throttle
    request_log: RequestLog
    access: AccessControl
    blobs: BlobStore
    identities: list[ManagedIdentity]
    reset: Callable[[], None]


class Controls:
    def __init__(self, deps: ControlDependencies) -> None:
        self.deps = deps
        self.router = Router(
            [
                Route("GET", f"{PREFIX}/health", self.health),
                Route("POST", f"{PREFIX}/reset", self.reset),
                Route("GET", f"{PREFIX}/time-scale", self.get_time_scale),
                Route("PUT", f"{PREFIX}/time-scale", self.set_time_scale),
                Route("GET", f"{PREFIX}/requests", self.requests),
                Route("GET", f"{PREFIX}/faults", self.list_faults),
                Route("POST", f"{PREFIX}/faults", self.add_fault),
                Route("DELETE", f"{PREFIX}/faults", self.clear_faults),
                Route("DELETE", f"{PREFIX}/faults/{{fault}}", self.remove_fault),
                Route("GET", f"{PREFIX}/throttling", self.get_throttling),
                Route("PUT", f"{PREFIX}/throttling", self.set_throttling),
                Route("GET", f"{PREFIX}/role-assignments", self.get_role_assignments),
                Route("PUT", f"{PREFIX}/role-assignments", self.set_role_assignments),
                Route("GET", f"{PREFIX}/content", self.content),
            ]
        )

    def __call__(self, request: Request) -> Response:
        try:
            route, params = self.router.resolve(request.method, request.path)
            request.params = params
            return route.handler(request)
        except errors.ArmError as exc:
            return Response(exc.status, exc.to_body(), dict(exc.headers))

    def health(self, request: Request) -> Response:
        state = self.deps.state
        with state.lock:
            counts = {
                "labs": len(state.labs),
                "virtual_machines": len(state.vms),
                "custom_images": len(state.images),
                "disks": len(state.disks),
            }
        return Response(
            200, {"status": "ok", "time_scale": self.deps.clock.scale, **counts}
        )

    def reset(self, request: Request) -> Response:
        self.deps.reset()
        return Response(200, {"status": "reset", "time_scale": self.deps.clock.scale})

    def get_time_scale(self, request: Request) -> Response:
        return Response(200, {"time_scale": self.deps.clock.scale})

    def set_time_scale(self, request: Request) -> Response:
        value = request.json_object().get("time_scale")
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value <= 0
        ):
            raise InvalidControlRequest(
                f"time_scale must be a number above 0, got {value!r}."
            )
        self.deps.clock.set_scale(float(value))
        logger.info("time scale set to %g", value)
        return Response(200, {"time_scale": self.deps.clock.scale})

    def requests(self, request: Request) -> Response:
        since = _int_query(request, "since", 0)
        limit = _int_query(request, "limit", DEFAULT_LOG_LIMIT)
        entries = self.deps.request_log.since(since, limit)
        last = entries[-1].seq if entries else since
        return Response(
            200, {"entries": [entry.to_dict() for entry in entries], "last_seq": last}
        )

    def list_faults(self, request: Request) -> Response:
        return Response(200, {"faults": self.deps.faults.describe()})

    def add_fault(self, request: Request) -> Response:
        rule = self.deps.faults.add(request.json_object())
        logger.info("added fault rule %s: %s", rule.id, rule.to_dict())
        return Response(201, rule.to_dict())

    def clear_faults(self, request: Request) -> Response:
        self.deps.faults.clear()
        return Response(204)

    def remove_fault(self, request: Request) -> Response:
        if not self.deps.faults.remove(request.params["fault"]):
            raise errors.ResourceNotFound(
                f"There is no fault rule '{request.params['fault']}'."
            )
        return Response(204)

    def get_throttling(self, request: Request) -> Response:
        return Response(200, self.deps.throttle.describe())

    def set_throttling(self, request: Request) -> Response:
        settings = request.json_object()
        unknown = sorted(set(settings) - {"enabled", *CATEGORIES})
        if unknown:
            raise InvalidControlRequest(
                f"Unknown throttling settings: {', '.join(unknown)}."
            )
        for category in CATEGORIES:
            values = settings.get(category, {})
            if not isinstance(values, dict) or any(
                not isinstance(values.get(key, 0), int | float)
                or values.get(key, 0) < 0
                for key in ("capacity", "refill_per_second")
            ):
                raise InvalidControlRequest(
                    f"{category} must be an object with capacity and refill_per_second of at least 0."
                )
        self.deps.throttle.configure(settings)
        return Response(200, self.deps.throttle.describe())

    def get_role_assignments(self, request: Request) -> Response:
        names = {
            identity.principal_id: identity.name for identity in self.deps.identities
        }
        assignments = [
            {
                "identity": names.get(item.principal_id),
                "principal_id": item.principal_id,
                "role": item.role,
                "scope": item.scope,
            }
            for item in self.deps.access.assignments
        ]
        return Response(200, {"role_assignments": assignments})

    def set_role_assignments(self, request: Request) -> Response:
        items = request.json_object().get("role_assignments")
        if not isinstance(items, list):
            raise InvalidControlRequest("role_assignments must be a list.")
        assignments = [self._role_assignment(item) for item in items]
        try:
            self.deps.access.replace_assignments(assignments)
        except ValueError as exc:
            raise InvalidControlRequest(str(exc)) from exc
        return self.get_role_assignments(request)

    def content(self, request: Request) -> Response:
        """Return the SHA-256, size and disk record of a custom image's, disk's or blob's bytes."""
        resource_id = request.query_value("resource_id")
        blob_url = request.query_value("blob_url")
        if bool(resource_id) == bool(blob_url):
            raise InvalidControlRequest(
                "Give exactly one of the query parameters resource_id and blob_url."
            )
        location = (
            self._resource_blob(resource_id)
            if resource_id
            else self._url_blob(str(blob_url))
        )
        if self.deps.blobs.properties(*location) is None:
            raise errors.ResourceNotFound(
                f"The blob {location[0]}/{location[1]} does not exist."
            )

        sha256, size = self.deps.blobs.digest(*location)
        head = (
            self.deps.blobs.read(*location, 0, min(size, vhd.HEADER_MAX_BYTES))
            if size
            else b""
        )
        return Response(
            200,
            {
                "sha256": sha256,
                "size": size,
                "container": location[0],
                "blob": location[1],
                "record": vhd.decode_record(head),
            },
        )

    def _resource_blob(self, resource_id: str) -> tuple[str, str]:
        key = resource_id.rstrip("/").lower()
        state = self.deps.state
        with state.lock:
            image = state.images.get(key)
            if image is not None:
                return state.labs[image.lab_key].image_container, image.blob_name
            disk = state.disks.get(key)
            if disk is not None:
                return disk.container, disk.blob
        raise errors.ResourceNotFound(
            f"There is no custom image or disk with id '{resource_id}'."
        )

    def _url_blob(self, url: str) -> tuple[str, str]:
        """Return the Azurite container and blob of an Azurite URL or a lab's data-plane URL."""
        location = self.deps.blobs.parse_blob_url(url.split("?", 1)[0])
        if location is not None:
            return location
        with self.deps.state.lock:
            labs = list(self.deps.state.labs.values())
        found = find_upload_blob(labs, url)
        if found is None:
            raise InvalidControlRequest(
                f"The URL '{url}' is not a blob in {self.deps.blobs.endpoint} or in "
                "the upload container of a lab's storage account."
            )
        return found[0].upload_container, found[1]

    def _role_assignment(self, item: Any) -> RoleAssignment:
        if not isinstance(item, dict) or not item.get("role"):
            raise InvalidControlRequest(
                "Each role assignment needs role, one of scope, lab and lab_storage, "
                "and identity or principal_id."
            )
        scope = self._role_scope(item)
        principal_id = item.get("principal_id")
        if item.get("identity"):
            match = [i for i in self.deps.identities if i.name == item["identity"]]
            if not match:
                raise InvalidControlRequest(
                    f"There is no identity named {item['identity']!r}."
                )
            principal_id = match[0].principal_id
        if not principal_id:
            raise InvalidControlRequest(
                "Each role assignment needs identity or principal_id."
            )
        return RoleAssignment(str(principal_id), str(item["role"]), scope)

    def _role_scope(self, item: dict[str, Any]) -> str:
        """Return the scope that a role assignment gives as scope, lab or lab_storage."""
        scope_fields = {
            key: str(item[key])
            for key in ("scope", "lab", "lab_storage")
            if item.get(key) is not None
        }
        with self.deps.state.lock:
            labs = list(self.deps.state.labs.values())
        try:
            return resolve_role_scope(labs, **scope_fields)
        except ValueError as exc:
            raise InvalidControlRequest(
                f"Invalid role assignment {item}: {exc}."
            ) from exc


def _int_query(request: Request, name: str, default: int) -> int:
    value = request.query_value(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise InvalidControlRequest(
            f"The query parameter {name} must be an integer, got {value!r}."
        ) from exc
