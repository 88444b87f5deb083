"""The Azure Functions app: one blueprint per stage or trigger, no logic."""

from __future__ import annotations

import azure.functions as func

from functions import (
    build,
    capture,
    distribute,
    finalize,
    http_api,
    plan,
    poison,
    retire,
    timers,
    webhooks,
)
from shared import logcontext

logcontext.install()

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    plan,
    build,
    capture,
    distribute,
    finalize,
    retire,
    poison,
    webhooks,
    http_api,
    timers,
):
    app.register_functions(blueprint.bp)
