"""Call user functions, sync or async, and log each invocation's start and end."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext

from devhost.activity import ActivityCounter
from devhost.indexing import CONTEXT_PARAMETER, FunctionDefinition

logger = logging.getLogger(__name__)


class FunctionFailedError(Exception):
    """The user function raised; ``__cause__`` is its exception."""

    def __init__(self, function_name: str, invocation_id: str) -> None:
        super().__init__(
            f"function {function_name} failed (invocation {invocation_id})"
        )
        self.function_name = function_name
        self.invocation_id = invocation_id


class _TraceContext(TraceContext):
    def __init__(self) -> None:
        self._trace_parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The ``context`` argument that the Python worker passes to functions that declare it."""

    _thread_local = threading.local()

    def __init__(
        self, invocation_id: str, function_name: str, function_directory: str
    ) -> None:
        self._invocation_id = invocation_id
        self._function_name = function_name
        self._function_directory = function_directory
        self._trace_context = _TraceContext()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return _RetryContext()


class Invoker:
    """Run user functions and count the invocations in progress, so shutdown can wait for them.

    Sync functions run on the calling thread. Async functions run on one event
    loop thread, as the Python worker runs them on its event loop, and the
    calling thread waits for the result.
    """

    def __init__(
        self, function_directory: str, function_timeout: timedelta | None = None
    ) -> None:
        self._function_directory = function_directory
        self._function_timeout = function_timeout
        self._activity = ActivityCounter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_lock = threading.Lock()

    @property
    def active_count(self) -> int:
        """Number of invocations in progress."""
        return self._activity.active

    def invoke(
        self, definition: FunctionDefinition, trigger_value: Any, trigger_detail: str
    ) -> Any:
        """Call the function with its trigger argument and return its result.

        Raises FunctionFailedError, chained to the function's exception, after
        logging the traceback.
        """
        invocation_id = str(uuid.uuid4())
        arguments = {definition.argument: trigger_value}
        if definition.takes_context:
            arguments[CONTEXT_PARAMETER] = InvocationContext(
                invocation_id, definition.name, self._function_directory
            )

        with self._activity.track():
            return self._run(definition, arguments, invocation_id, trigger_detail)

    def _run(
        self,
        definition: FunctionDefinition,
        arguments: dict[str, Any],
        invocation_id: str,
        trigger_detail: str,
    ) -> Any:
        started = time.monotonic()
        logger.info(
            "invocation start function=%s trigger=%s id=%s %s",
            definition.name,
            definition.trigger_type,
            invocation_id,
            trigger_detail,
        )
        try:
            result = self._call(definition, arguments)
        except Exception as exc:
            self._finish(definition, invocation_id, started, "failed")
            logger.exception(
                "function %s raised %s (invocation %s, %s)",
                definition.name,
                type(exc).__name__,
                invocation_id,
                trigger_detail,
            )
            raise FunctionFailedError(definition.name, invocation_id) from exc

        self._finish(definition, invocation_id, started, "succeeded")
        return result

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no invocation is in progress; return False when the timeout passed first."""
        return self._activity.wait_idle(timeout)

    def close(self) -> None:
        """Stop the event loop thread of async functions, if it was started."""
        with self._loop_lock:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._loop = None

    def _call(self, definition: FunctionDefinition, arguments: dict[str, Any]) -> Any:
        if not definition.is_async:
            return definition.user_function(**arguments)

        coroutine: Coroutine[Any, Any, Any] = definition.user_function(**arguments)
        return asyncio.run_coroutine_threadsafe(coroutine, self._event_loop()).result()

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._loop_lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=loop.run_forever, name="devhost-async", daemon=True
                ).start()
                self._loop = loop
            return self._loop

    def _finish(
        self,
        definition: FunctionDefinition,
        invocation_id: str,
        started: float,
        outcome: str,
    ) -> None:
        duration = time.monotonic() - started
        logger.info(
            "invocation end function=%s trigger=%s id=%s outcome=%s duration_ms=%d",
            definition.name,
            definition.trigger_type,
            invocation_id,
            outcome,
            duration * 1000,
        )
        if (
            self._function_timeout is not None
            and duration > self._function_timeout.total_seconds()
        ):
            # NOTE: the Functions host cancels an invocation at functionTimeout and
            # restarts the worker. A Python thread cannot be cancelled, so the dev
            # host only reports the overrun.
            logger.warning(
                "function %s ran %.1f s, longer than functionTimeout %s (invocation %s)",
                definition.name,
                duration,
                self._function_timeout,
                invocation_id,
            )
