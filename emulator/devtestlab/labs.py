"""Lab operations: Labs_Get, Labs_ListBySubscription, Labs_ListByResourceGroup,
Labs_GenerateUploadUri.

Not emulated: creating, updating or deleting labs (labs come from the
seed), and the other lab actions (claimAnyVm, createEnvironment,
exportResourceUsage, importVirtualMachine, listVhds).
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import timedelta

from emulator import errors
from emulator.devtestlab.base import BackendBase
from emulator.devtestlab.models import Lab

logger = logging.getLogger(__name__)

# DevTest Labs hands out upload SAS URLs valid for about a day. The emulator
# keeps them shorter, so that a test notices a URL that is used too late.
UPLOAD_SAS_LIFETIME = timedelta(hours=1)
_BLOB_NAME = re.compile(r"^[^\\?#]{1,1024}$")


class LabsMixin(BackendBase):
    def get_lab(self, subscription_id: str, resource_group: str, name: str) -> Lab:
        return self.lab(subscription_id, resource_group, name)

    def list_labs(
        self, subscription_id: str, resource_group: str | None = None
    ) -> list[Lab]:
        if resource_group is None:
            self.check_subscription(subscription_id)
        else:
            self.check_resource_group(subscription_id, resource_group)
        labs = [
            lab
            for lab in self.ctx.state.labs.values()
            if resource_group is None
            or lab.resource_group.lower() == resource_group.lower()
        ]
        return sorted(labs, key=lambda lab: lab.name.lower())

    def generate_upload_uri(
        self, lab: Lab, blob_name: str | None, base_url: str
    ) -> str:
        """Return a write SAS URL for one blob in the lab's upload container.

        The URL is on the lab's blob data plane at ``base_url``. Its SAS is
        one that Azurite signed for the blob in the lab's ``<prefix>-uploads``
        container, so the data plane passes it on unchanged.
        """
        name = blob_name or f"{uuid.uuid4()}.vhd"
        if not _BLOB_NAME.match(name) or name.endswith(("/", ".")):
            raise errors.InvalidParameter(
                f"The blob name '{name}' is invalid.", target="blobName"
            )

        self.ctx.blobs.ensure_container(lab.upload_container)
        expired = self.ctx.faults.for_resource("blob_copy_failure", name) is not None
        if expired:
            logger.info("handing out an expired upload SAS for %s (fault)", name)
        sas = self.ctx.blobs.sas_token(
            lab.upload_container, name, "rcw", UPLOAD_SAS_LIFETIME, expired=expired
        )
        return f"{lab.upload_blob_url(base_url, name)}?{sas}"
