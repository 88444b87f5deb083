"""Compose the emulator from its parts, start it, and stop it cleanly."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.authorization import AccessControl, RoleAssignment, RoleDefinition
from emulator.blobs import DEFAULT_CONNECTION_STRING, BlobStore, StorageError
from emulator.catalog import ArtifactCatalog
from emulator.clock import DEFAULT_TIME_SCALE, ScaledClock, utc_now_iso
from emulator.compute.backend import ComputeBackend
from emulator.compute.responses import ComputeResponses
from emulator.context import Context
from emulator.controls import ControlDependencies, Controls
from emulator.devtestlab.backend import DevTestLabBackend
from emulator.devtestlab.models import Lab, container_slug, lab_id, resolve_role_scope
from emulator.devtestlab.responses import DevTestLabResponses
from emulator.faults import FaultInjector
from emulator.frontdoor import FrontDoor
from emulator.identity import TOKEN_PATH, ManagedIdentity, TokenService
from emulator.requestlog import RequestLog
from emulator.routing import Router
from emulator.seed import load_seed
from emulator.server import EmulatorHTTPServer
from emulator.state import EmulatorState, StateFile, StateWriter
from emulator.storageplane import StoragePlane
from emulator.storageproxy import AzuriteProxy
from emulator.throttling import Throttle
from emulator.timings import Timings
from emulator.tls import load_or_create_ca, server_context
from emulator.urls import compute_routes, devtestlab_routes

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.05


@dataclass
class EmulatorConfig:
    state_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    time_scale: float | None = None
    seed_labs: Path | None = None
    storage_connection_string: str = DEFAULT_CONNECTION_STRING
    random_seed: int = 1


class Emulator:
    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.seed = load_seed(config.seed_labs)
        self.connection_file = config.state_dir / "connection.json"
        self.connection_file.unlink(missing_ok=True)

        signing_key, identity_header = _load_or_create_secrets(
            config.state_dir / "secrets.json"
        )
        self.identities = [
            ManagedIdentity(item.name, item.principal_id, item.client_id)
            for item in self.seed.effective_identities()
        ]
        self.tokens = TokenService(
            signing_key, identity_header, self.seed.tenant_id, self.identities
        )

        self.state_file = StateFile(config.state_dir / "state.json")
        self.state = EmulatorState()
        saved = self.state_file.load()
        self.clock = self._make_clock(saved)
        self.startup_time_scale = self.clock.scale
        self._seed_labs(saved)
        if saved is not None:
            self.state.load_dict(saved)
        self.state.clock_state = self.clock.to_state
        self.access = AccessControl(
            self._seeded_role_assignments(),
            [
                RoleDefinition(
                    r.name,
                    tuple(r.actions),
                    tuple(r.not_actions),
                    tuple(r.data_actions),
                    tuple(r.not_data_actions),
                )
                for r in self.seed.custom_roles
            ],
        )

        self.blobs = BlobStore(config.storage_connection_string)
        self.faults = FaultInjector()
        self.throttle = Throttle(self.clock)
        self.request_log = RequestLog(config.state_dir / "requests.jsonl")
        self.ctx = Context(
            state=self.state,
            clock=self.clock,
            blobs=self.blobs,
            faults=self.faults,
            catalog=ArtifactCatalog.load(),
            timings=Timings(config.random_seed),
            subscription_id=self.seed.subscription_id,
        )
        self.devtestlab = DevTestLabBackend(self.ctx)
        self.compute = ComputeBackend(self.ctx)
        self.server = self._make_server()
        self._writer = StateWriter(self.state, self.state_file)
        self._stop_requested = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="ticker", daemon=True)
        self._serving = threading.Thread(
            target=self.server.serve_forever, name="server", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"https://{self.config.host}:{self.server.port}"

    def start(self) -> None:
        # Containers are also created on first use, so a slow or absent
        # Azurite does not hold up the start.
        threading.Thread(
            target=self._ensure_containers, name="containers", daemon=True
        ).start()
        self._writer.start()
        self._ticker.start()
        self._serving.start()
        self._write_connection_file()
        logger.info(
            "emulator serving ARM on %s (time scale %g)",
            self.base_url,
            self.clock.scale,
        )

    def stop(self) -> None:
        logger.info("emulator stopping")
        self._stop_requested.set()
        self.server.shutdown()
        self.server.server_close()
        self._ticker.join(timeout=5)
        self._writer.stop()
        self.connection_file.unlink(missing_ok=True)
        logger.info("emulator stopped")

    def advance(self) -> None:
        """Apply every step that is due; the caller holds the state lock."""
        now = self.clock.now()
        self.devtestlab.advance(now)
        self.compute.advance(now)

    def reset(self) -> None:
        """Delete all VMs, disks, custom images and operations; clear faults, log, throttling."""
        with self.state.lock:
            for disk in self.state.disks.values():
                self._delete_quietly(disk.container, disk.blob)
            for image in self.state.images.values():
                self._delete_quietly(
                    self.state.labs[image.lab_key].image_container, image.blob_name
                )
            self.state.clear_resources()
        self.faults.clear()
        self.request_log.clear()
        self.throttle.reset()
        self.access.replace_assignments(self._seeded_role_assignments())
        self.clock.set_scale(self.startup_time_scale)
        logger.info("emulator reset")

    def connection_info(self) -> dict[str, Any]:
        labs = list(self.state.labs.values())
        factory = next((lab for lab in labs if lab.kind == "factory"), None)
        return {
            "arm_endpoint": self.base_url,
            "ca_bundle": str(self.ca_path),
            "identity_endpoint": f"{self.base_url}{TOKEN_PATH}",
            "identity_header": self.tokens.identity_header,
            "subscription_id": self.seed.subscription_id,
            "tenant_id": self.seed.tenant_id,
            "factory_lab_id": None if factory is None else factory.id,
            "team_lab_ids": [lab.id for lab in labs if lab.kind == "team"],
            "control_endpoint": f"{self.base_url}/_emulator",
            "storage_connection_string": self.config.storage_connection_string,
            "time_scale": self.clock.scale,
            "pid": os.getpid(),
        }

    def _seeded_role_assignments(self) -> list[RoleAssignment]:
        by_name = {identity.name: identity for identity in self.identities}
        labs = list(self.state.labs.values())
        assignments = []
        for item in self.seed.effective_role_assignments():
            identity = by_name.get(item.identity)
            if identity is None:
                raise ValueError(
                    f"role assignment names the unknown identity {item.identity!r}"
                )
            scope = resolve_role_scope(
                labs, lab=item.lab, lab_storage=item.lab_storage, scope=item.scope
            )
            assignments.append(RoleAssignment(identity.principal_id, item.role, scope))
        return assignments

    def _make_clock(self, saved: dict[str, Any] | None) -> ScaledClock:
        clock_state = None if saved is None else saved.get("clock")
        if clock_state:
            return ScaledClock.from_state(clock_state, scale=self.config.time_scale)
        return ScaledClock(self.config.time_scale or DEFAULT_TIME_SCALE)

    def _seed_labs(self, saved: dict[str, Any] | None) -> None:
        created = dict((saved or {}).get("lab_created", {}))
        for item in self.seed.labs:
            key = lab_id(
                self.seed.subscription_id, item.resource_group, item.name
            ).lower()
            created.setdefault(key, utc_now_iso())
            lab = Lab(
                subscription_id=self.seed.subscription_id,
                resource_group=item.resource_group,
                name=item.name,
                location=item.location,
                kind=item.kind,
                container_prefix=item.storage.container_prefix
                or container_slug(item.name),
                created=created[key],
                max_vms=item.max_vms,
                allowed_sizes=item.allowed_sizes,
                tags=dict(item.tags),
            )
            self.state.labs[lab.key] = lab
        self.state.lab_created = {key: created[key] for key in self.state.labs}
        self.state.mark_dirty()

    def _make_server(self) -> EmulatorHTTPServer:
        ca, self.ca_path = load_or_create_ca(self.config.state_dir / "tls")
        context = server_context(ca, [self.config.host, "127.0.0.1", "localhost"])
        dtl = DevTestLabResponses(self.devtestlab, self.access, self.clock)
        compute = ComputeResponses(self.compute, self.clock)
        router = Router(devtestlab_routes(dtl) + compute_routes(compute, self.compute))
        controls = Controls(
            ControlDependencies(
                state=self.state,
                clock=self.clock,
                faults=self.faults,
                throttle=self.throttle,
                request_log=self.request_log,
                access=self.access,
                blobs=self.blobs,
                identities=self.identities,
                reset=self.reset,
            )
        )
        storage = StoragePlane(
            lambda: list(self.state.labs.values()),
            self.blobs,
            self.tokens,
            self.access,
            AzuriteProxy(self.blobs.endpoint),
        )
        front_door = FrontDoor(
            router,
            controls,
            self.tokens,
            self.access,
            self.throttle,
            self.faults,
            self.request_log,
            self.clock,
            self.state,
            self.advance,
            storage,
        )
        return EmulatorHTTPServer(
            (self.config.host, self.config.port), front_door, context
        )

    def _tick(self) -> None:
        while not self._stop_requested.wait(TICK_SECONDS):
            try:
                with self.state.lock:
                    self.advance()
            except Exception:
                logger.exception("advancing the emulated operations failed")

    def _ensure_containers(self) -> None:
        try:
            for lab in self.state.labs.values():
                for container in (
                    lab.upload_container,
                    lab.disk_container,
                    lab.image_container,
                ):
                    self.blobs.ensure_container(container)
        except StorageError as exc:
            logger.warning(
                "cannot prepare the lab containers yet, will retry on use: %s", exc
            )

    def _delete_quietly(self, container: str, blob: str) -> None:
        try:
            self.blobs.delete(container, blob)
        except StorageError as exc:
            logger.warning("reset could not delete %s/%s: %s", container, blob, exc)

    def _write_connection_file(self) -> None:
        temporary = self.connection_file.with_name(".connection.json.tmp")
        temporary.write_text(
            json.dumps(self.connection_info(), indent=2), encoding="utf-8"
        )
        os.replace(temporary, self.connection_file)


def _load_or_create_secrets(path: Path) -> tuple[bytes, str]:
    """Return the token signing key and the identity header secret of the state directory."""
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return base64.b64decode(data["signing_key"]), str(data["identity_header"])

    signing_key = secrets.token_bytes(32)
    identity_header = secrets.token_hex(16)
    path.write_text(
        json.dumps(
            {
                "signing_key": base64.b64encode(signing_key).decode(),
                "identity_header": identity_header,
            }
        ),
        encoding="utf-8",
    )
    os.chmod(path, 0o600)
    return signing_key, identity_header
