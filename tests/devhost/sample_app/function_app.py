"""Sample Functions app for the dev host tests: queue, timer and HTTP triggers in blueprints."""

from __future__ import annotations

import azure.functions as func
import sample_http
import sample_queues
import sample_timers

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(sample_queues.bp)
app.register_functions(sample_timers.bp)
app.register_functions(sample_http.bp)
