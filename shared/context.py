"""The factory's service clients, bundled for the stage handlers."""

from __future__ import annotations

import contextlib
import functools
import logging
from dataclasses import dataclass
from datetime import datetime

from shared.labs import LabClient
from shared.labstorage import LabUploads
from shared.models import utcnow
from shared.queues import StageQueues
from shared.settings import Settings, get_settings
from shared.state import StateStore
from shared.storage import StorageClients, azure_credential

logger = logging.getLogger(__name__)


@dataclass
class Factory:
    """Everything a handler talks to: settings, state, queues, labs, their uploads and the image store."""

    settings: Settings
    storage: StorageClients
    store: StateStore
    queues: StageQueues
    labs: LabClient
    uploads: LabUploads

    @classmethod
    def from_settings(cls, settings: Settings) -> Factory:
        storage = StorageClients.from_settings(settings)
        credential = azure_credential(settings.client_id)
        return cls(
            settings=settings,
            storage=storage,
            store=StateStore(storage),
            queues=StageQueues(storage),
            labs=LabClient(settings.arm_endpoint, credential),
            uploads=LabUploads(credential),
        )

    def ensure_resources(self) -> None:
        """Create the tables, queues and image-store container if they are missing."""
        from azure.core.exceptions import ResourceExistsError

        self.store.ensure_tables()
        self.queues.ensure_queues()
        with contextlib.suppress(ResourceExistsError):
            self.storage.blobs.create_container(self.settings.image_store_container)

    def now(self) -> datetime:
        return utcnow()


@functools.cache
def get_factory() -> Factory:
    """Return the process's factory, built and its storage prepared on first use."""
    factory = Factory.from_settings(get_settings())
    factory.ensure_resources()
    logger.info("factory ready (ARM endpoint %s)", factory.settings.arm_endpoint)
    return factory
