"""Typed errors of the factory.

Every error says whether trying again can help. Only the trigger adapters
decide what to do with that: let the queue redeliver the message, or mark
the task failed.
"""

from __future__ import annotations


class FactoryError(Exception):
    """Base class of the factory's own errors."""

    retryable: bool = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class SettingsError(FactoryError):
    """An app setting is missing or invalid."""


class TransientError(FactoryError):
    """A failure that a later attempt can get past (throttling, 5xx, timeouts)."""

    retryable = True


class AzureOperationError(FactoryError):
    """An Azure Resource Manager or storage call failed.

    ``code`` is the ARM or storage error code (``AuthorizationFailed``,
    ``InvalidStorageAccountForLab``, ...) when the service sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, retryable=retryable)
        self.code = code
        self.status = status


class RunNotFoundError(FactoryError):
    """No run has the requested id."""


class WebhookError(FactoryError):
    """A webhook delivery is invalid; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
