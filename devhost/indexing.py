"""Load the Functions app and turn each function's bindings into a trigger definition.

The app is indexed once: ``FunctionApp.get_functions()`` raises on a second
call (azure-functions 1.26 records the names it has seen), so the host keeps
the list it gets.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import re
import sys
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devhost.appsettings import resolve_setting_expressions
from devhost.errors import AppLoadError, IndexingError
from devhost.hostconfig import HostConfig
from devhost.keys import AUTH_LEVELS, FUNCTION
from devhost.routing import RouteTemplate, compile_route
from devhost.schedule import Schedule, parse_schedule

logger = logging.getLogger(__name__)

QUEUE_TRIGGER = "queueTrigger"
TIMER_TRIGGER = "timerTrigger"
HTTP_TRIGGER = "httpTrigger"
CONTEXT_PARAMETER = "context"

_QUEUE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class QueueTrigger:
    """A queue trigger: the queue to poll and the app setting that contains its connection string."""

    queue_name: str
    connection: str


@dataclass(frozen=True)
class TimerTrigger:
    """A timer trigger with its parsed schedule."""

    schedule_expression: str
    schedule: Schedule
    run_on_startup: bool
    use_monitor: bool | None


@dataclass(frozen=True)
class HttpTrigger:
    """An HTTP trigger: route template, allowed methods (None allows all) and auth level."""

    route: RouteTemplate
    methods: frozenset[str] | None
    auth_level: str


Trigger = QueueTrigger | TimerTrigger | HttpTrigger


@dataclass(frozen=True)
class FunctionDefinition:
    """One indexed function: its trigger and how to call the user function."""

    name: str
    trigger_type: str
    trigger: Trigger
    argument: str
    user_function: Callable[..., Any]
    takes_context: bool
    payload_annotation: Any = None

    @property
    def is_async(self) -> bool:
        """Whether the user function is a coroutine function."""
        return inspect.iscoroutinefunction(self.user_function)


def load_app(app_dir: Path, module_name: str, attribute: str) -> Any:
    """Import the app module from the app directory and return its FunctionApp object."""
    sys.path.insert(0, str(app_dir))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        # Any error at import time means the app has no functions, so it is
        # reported with its type and the traceback is logged for the author.
        logger.exception("importing %s from %s failed", module_name, app_dir)
        raise AppLoadError(
            f"cannot import {module_name} from {app_dir}: {type(exc).__name__}: {exc}"
        ) from exc

    app = getattr(module, attribute, None)
    if app is None or not callable(getattr(app, "get_functions", None)):
        raise AppLoadError(
            f"{module_name}.{attribute} is not an azure.functions.FunctionApp"
        )
    return app


def index_functions(
    app: Any, host_config: HostConfig, environ: Mapping[str, str] | None = None
) -> list[FunctionDefinition]:
    """Call ``app.get_functions()`` once and build a definition for every enabled function.

    Functions disabled with the ``AzureWebJobs.<name>.Disabled`` setting, or
    left out of host.json ``functions``, are skipped as the Functions host
    skips them.
    """
    settings = os.environ if environ is None else environ
    try:
        functions = app.get_functions()
    except ValueError as exc:
        raise IndexingError(f"indexing the app failed: {exc}") from exc

    definitions = []
    for function in functions:
        name = function.get_function_name()
        if not _is_enabled(name, host_config, settings):
            logger.info("function %s is disabled; not loading it", name)
            continue
        definitions.append(build_definition(name, function, settings))
    return definitions


def _is_enabled(
    name: str, host_config: HostConfig, settings: Mapping[str, str]
) -> bool:
    if host_config.functions is not None and name not in host_config.functions:
        return False
    return settings.get(f"AzureWebJobs.{name}.Disabled", "").lower() not in (
        "true",
        "1",
    )


def build_definition(
    name: str, function: Any, settings: Mapping[str, str]
) -> FunctionDefinition:
    """Build the definition of one ``azure.functions.Function``, or raise IndexingError naming it."""
    bindings = [binding.get_dict_repr() for binding in function.get_bindings()]
    triggers = [
        binding
        for binding in bindings
        if str(binding.get("type", "")).endswith("Trigger")
    ]
    if len(triggers) != 1:
        raise IndexingError(
            f"function {name} must have exactly one trigger, found {len(triggers)}"
        )

    trigger_binding = triggers[0]
    for binding in bindings:
        if binding is not trigger_binding and not _is_http_return(
            trigger_binding, binding
        ):
            raise IndexingError(
                f"function {name} uses a {binding.get('type')} binding ({binding.get('name')}), which the "
                "dev host does not support; use the Azure SDK clients in the function body instead"
            )

    trigger_type = str(trigger_binding["type"])
    trigger = _build_trigger(name, trigger_type, trigger_binding, settings)
    user_function = function.get_user_function()
    argument = str(trigger_binding["name"])
    return FunctionDefinition(
        name=name,
        trigger_type=trigger_type,
        trigger=trigger,
        argument=argument,
        user_function=user_function,
        takes_context=_check_parameters(name, user_function, argument),
        payload_annotation=_annotation(user_function, argument),
    )


def _is_http_return(trigger: Mapping[str, Any], binding: Mapping[str, Any]) -> bool:
    """Return whether the binding is the ``$return`` HTTP output that ``@app.route`` adds."""
    return (
        trigger.get("type") == HTTP_TRIGGER
        and binding.get("type") == "http"
        and binding.get("name") == "$return"
    )


def _build_trigger(
    name: str,
    trigger_type: str,
    binding: Mapping[str, Any],
    settings: Mapping[str, str],
) -> Trigger:
    if trigger_type == QUEUE_TRIGGER:
        return _queue_trigger(name, binding, settings)
    if trigger_type == TIMER_TRIGGER:
        return _timer_trigger(name, binding, settings)
    if trigger_type == HTTP_TRIGGER:
        return _http_trigger(name, binding)
    raise IndexingError(
        f"function {name} has a {trigger_type} trigger; the dev host supports "
        f"{QUEUE_TRIGGER}, {TIMER_TRIGGER} and {HTTP_TRIGGER}"
    )


def _queue_trigger(
    name: str, binding: Mapping[str, Any], settings: Mapping[str, str]
) -> QueueTrigger:
    raw_name = str(binding.get("queueName") or "")
    queue_name = resolve_setting_expressions(
        raw_name, f"function {name} queueName", settings
    ).lower()
    if not _QUEUE_NAME.match(queue_name):
        raise IndexingError(
            f"function {name}: queue name {queue_name!r} is invalid; use 3-63 lowercase letters, "
            "digits and single hyphens, starting and ending with a letter or digit"
        )
    return QueueTrigger(
        queue_name=queue_name, connection=str(binding.get("connection") or "")
    )


def _timer_trigger(
    name: str, binding: Mapping[str, Any], settings: Mapping[str, str]
) -> TimerTrigger:
    expression = resolve_setting_expressions(
        str(binding.get("schedule") or ""), f"function {name} schedule", settings
    )
    try:
        schedule = parse_schedule(expression)
    except IndexingError as exc:
        raise type(exc)(f"function {name}: {exc}") from exc

    use_monitor = binding.get("useMonitor")
    return TimerTrigger(
        schedule_expression=expression,
        schedule=schedule,
        run_on_startup=bool(binding.get("runOnStartup")),
        use_monitor=None if use_monitor is None else bool(use_monitor),
    )


def _http_trigger(name: str, binding: Mapping[str, Any]) -> HttpTrigger:
    route_text = str(binding.get("route") or name)
    try:
        route = compile_route(route_text)
    except IndexingError as exc:
        raise type(exc)(f"function {name}: {exc}") from exc

    auth_level = _enum_text(binding.get("authLevel") or FUNCTION).lower()
    if auth_level not in AUTH_LEVELS:
        raise IndexingError(
            f"function {name} has the unknown auth level {auth_level!r}"
        )

    methods = binding.get("methods")
    allowed = (
        None
        if not methods
        else frozenset(_enum_text(method).upper() for method in methods)
    )
    return HttpTrigger(route=route, methods=allowed, auth_level=auth_level)


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value))


def _check_parameters(
    name: str, user_function: Callable[..., Any], argument: str
) -> bool:
    """Check that the function takes the trigger argument and, at most, ``context``.

    Returns whether it takes ``context``.
    """
    parameters = inspect.signature(user_function).parameters
    if argument not in parameters:
        raise IndexingError(
            f"function {name} has no parameter named {argument!r} for its trigger"
        )

    unbound = [
        parameter
        for parameter in parameters
        if parameter not in (argument, CONTEXT_PARAMETER)
    ]
    if unbound:
        raise IndexingError(
            f"function {name} has parameters without a binding: {', '.join(unbound)}"
        )
    return CONTEXT_PARAMETER in parameters


def _annotation(user_function: Callable[..., Any], argument: str) -> Any:
    """Return the trigger parameter's type annotation, or None when it has none or cannot be resolved."""
    try:
        return typing.get_type_hints(user_function).get(argument)
    except (NameError, TypeError, AttributeError):
        return None
