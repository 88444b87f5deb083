"""Local stack for development, tests and the demo: Azurite, the emulator, the dev host.

Run ``python -m scripts.localstack --help`` for the command line.
"""

from __future__ import annotations

from scripts.localstack.configrepo import CommitInfo, ConfigRepo
from scripts.localstack.detached import (
    describe_running_stack,
    running_services,
    stop_detached_stack,
)
from scripts.localstack.endpoints import (
    ApiSession,
    AzuritePorts,
    DevhostInfo,
    EmulatorInfo,
    ReadinessFileError,
)
from scripts.localstack.processes import (
    ServiceExitedError,
    ServiceStartError,
    ServiceTimeoutError,
    StackError,
)
from scripts.localstack.stack import REPO_ROOT, SERVICES, LocalStack

__all__ = [
    "REPO_ROOT",
    "SERVICES",
    "ApiSession",
    "AzuritePorts",
    "CommitInfo",
    "ConfigRepo",
    "DevhostInfo",
    "EmulatorInfo",
    "LocalStack",
    "ReadinessFileError",
    "ServiceExitedError",
    "ServiceStartError",
    "ServiceTimeoutError",
    "StackError",
    "describe_running_stack",
    "running_services",
    "stop_detached_stack",
]
