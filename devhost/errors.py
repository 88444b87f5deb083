"""Typed errors of the dev host.

Every error that stops the host at start derives from ``DevHostError``, so the
command line can print one clear message and exit with status 1.
"""

from __future__ import annotations


class DevHostError(Exception):
    """Base class of the errors that the dev host raises itself."""


class ConfigurationError(DevHostError):
    """An app setting, local.settings.json or host.json value is missing or invalid."""


class AppLoadError(DevHostError):
    """The app module cannot be imported or does not contain a FunctionApp."""


class IndexingError(DevHostError):
    """A function's trigger or bindings are not supported by the dev host or are invalid."""


class RouteTemplateError(IndexingError):
    """An HTTP trigger route template cannot be parsed."""


class ScheduleError(IndexingError):
    """A timer trigger schedule is not a valid NCRONTAB expression or TimeSpan."""


class StorageConnectionError(DevHostError):
    """The queue service named by a trigger's connection setting cannot be used."""
