"""The DevTest Labs backend: one method per emulated ARM operation."""

from __future__ import annotations

from emulator import errors
from emulator.devtestlab.artifacts import ArtifactsMixin
from emulator.devtestlab.custom_images import CustomImagesMixin
from emulator.devtestlab.labs import LabsMixin
from emulator.devtestlab.virtual_machines import VirtualMachinesMixin
from emulator.devtestlab.vm_lifecycle import VmLifecycleMixin
from emulator.operations import Operation

PROVIDER = "Microsoft.DevTestLab"


class DevTestLabBackend(
    LabsMixin, VirtualMachinesMixin, VmLifecycleMixin, CustomImagesMixin, ArtifactsMixin
):
    def advance(self, now: float) -> None:
        """Apply every step that is due by the emulated time now."""
        self.advance_vms(now)
        self.advance_images(now)

    def get_operation(
        self, subscription_id: str, location: str, operation_id: str
    ) -> Operation:
        """Operations_Get: the status of a long-running operation."""
        self.check_subscription(subscription_id)
        operation = self.ctx.state.operations.get(operation_id)
        if operation is None or operation.provider != PROVIDER:
            raise errors.ResourceNotFound(
                f"The operation '{operation_id}' in location '{location}' was not found."
            )
        return operation
