"""Queue trigger listener: polls one queue and runs its function for each message.

The control flow follows the Storage queue extension (5.x) of the Functions
host: batches of ``batchSize`` messages, a new batch once no more than
``newBatchThreshold`` are in flight, exponential idle backoff up to
``maxPollingInterval``, delete on success, release with ``visibilityTimeout``
on failure, and ``<queue>-poison`` after ``maxDequeueCount`` failed dequeues.
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import QueueClient, QueueMessage

from devhost.hostconfig import MIN_POLLING_INTERVAL, QueuesOptions
from devhost.indexing import FunctionDefinition, QueueTrigger
from devhost.invocation import FunctionFailedError, Invoker
from devhost.leases import LeaseKeeper
from devhost.storage import ensure_queue, redact

logger = logging.getLogger(__name__)

POISON_SUFFIX = "-poison"
MAX_QUEUE_NAME_LENGTH = 63
_ERROR_LOG_INTERVAL = 60.0


def poison_queue_name(queue_name: str) -> str | None:
    """Return the poison queue's name, or None where the host uses none.

    The host has no poison queue for a queue that is itself a poison queue or
    whose name is too long for the suffix.
    """
    if (
        queue_name.endswith(POISON_SUFFIX)
        or len(queue_name) + len(POISON_SUFFIX) > MAX_QUEUE_NAME_LENGTH
    ):
        return None
    return queue_name + POISON_SUFFIX


def decode_message_body(content: str, encoding: str) -> bytes:
    """Return the body that the function receives; raise ValueError on invalid base64."""
    if encoding == "none":
        return content.encode("utf-8")
    try:
        return base64.b64decode("".join(content.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc


class PollingBackoff:
    """Randomized exponential delay between polls of an empty queue."""

    def __init__(
        self, maximum: float, minimum: float = MIN_POLLING_INTERVAL.total_seconds()
    ) -> None:
        self._minimum = minimum
        self._maximum = maximum
        self._current = minimum

    def next_delay(self, found_messages: bool) -> float:
        """Return the next delay in seconds: the minimum right after messages were found, else double the last."""
        if found_messages:
            self._current = self._minimum
        else:
            self._current = min(
                self._maximum, self._current * 2 * random.uniform(0.8, 1.2)
            )
        return self._current


class QueueListener:
    """Poll one queue and run one function for each message, on a thread pool."""

    def __init__(
        self,
        definition: FunctionDefinition,
        options: QueuesOptions,
        invoker: Invoker,
        client: QueueClient,
        poison_client: QueueClient | None,
        lease_seconds: int,
    ) -> None:
        assert isinstance(definition.trigger, QueueTrigger)
        self.definition = definition
        self._options = options
        self._invoker = invoker
        self._client = client
        self._poison_client = poison_client
        self._lease_seconds = lease_seconds
        self._leases = LeaseKeeper(client, lease_seconds)
        self._executor = ThreadPoolExecutor(
            options.max_concurrency, thread_name_prefix=f"devhost-{definition.name}"
        )
        self._in_flight = 0
        self._capacity = threading.Condition()
        self._stopping = threading.Event()
        self._poll_thread = threading.Thread(
            target=self._poll_loop, name=f"devhost-poll-{definition.name}", daemon=True
        )
        self._poll_failures = 0
        self._last_error_log = 0.0

    @property
    def queue_name(self) -> str:
        """Name of the queue that triggers the function."""
        return self._client.queue_name

    def start(self) -> None:
        """Create the queue and its poison queue if missing, then start polling."""
        ensure_queue(self._client)
        if self._poison_client is not None:
            ensure_queue(self._poison_client)
        self._leases.start()
        self._poll_thread.start()
        logger.info(
            "listening on queue %s for function %s (batchSize=%d, newBatchThreshold=%d, maxDequeueCount=%d)",
            self.queue_name,
            self.definition.name,
            self._options.batch_size,
            self._options.new_batch_threshold,
            self._options.max_dequeue_count,
        )

    def stop(self) -> None:
        """Stop polling; messages already received keep running."""
        self._stopping.set()
        with self._capacity:
            self._capacity.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every received message is completed; return False when the timeout passed first."""
        deadline = time.monotonic() + timeout
        if self._poll_thread.is_alive():
            # A receive in progress either hands its messages to the pool or
            # releases them before the poll loop ends.
            self._poll_thread.join(timeout)
        with self._capacity:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._capacity.wait(remaining)
        self._leases.stop()
        self._executor.shutdown(wait=False)
        return True

    def _poll_loop(self) -> None:
        backoff = PollingBackoff(self._options.max_polling_interval.total_seconds())
        found_since_delay = False
        while self._wait_for_capacity():
            messages = self._receive()
            if self._stopping.is_set():
                self._release(messages)
                return
            if not messages:
                self._stopping.wait(backoff.next_delay(found_since_delay))
                found_since_delay = False
                continue

            found_since_delay = True
            for message in messages:
                with self._capacity:
                    self._in_flight += 1
                self._executor.submit(self._process, message)

    def _release(self, messages: list[QueueMessage]) -> None:
        """Make messages received during shutdown visible again at once, so that they do not wait for their lease."""
        for message in messages:
            try:
                self._update_visibility(message, str(message.pop_receipt), 0)
            except AzureError as exc:
                logger.warning(
                    "releasing message %s of queue %s at shutdown failed; it reappears after its lease: %s",
                    message.id,
                    self.queue_name,
                    redact(exc),
                )

    def _wait_for_capacity(self) -> bool:
        """Block until at most newBatchThreshold messages are in flight; return False when stopping."""
        with self._capacity:
            while (
                self._in_flight > self._options.new_batch_threshold
                and not self._stopping.is_set()
            ):
                self._capacity.wait()
        return not self._stopping.is_set()

    def _receive(self) -> list[QueueMessage]:
        try:
            messages = list(
                self._client.receive_messages(
                    messages_per_page=self._options.batch_size,
                    max_messages=self._options.batch_size,
                    visibility_timeout=self._lease_seconds,
                )
            )
        except AzureError as exc:
            self._report_poll_error(exc)
            return []

        if self._poll_failures:
            logger.info(
                "polling queue %s works again after %d failed polls",
                self.queue_name,
                self._poll_failures,
            )
            self._poll_failures = 0
        return messages

    def _report_poll_error(self, exc: AzureError) -> None:
        """Log the first failed poll, then at most one summary a minute."""
        self._poll_failures += 1
        now = time.monotonic()
        if (
            self._poll_failures == 1
            or now - self._last_error_log >= _ERROR_LOG_INTERVAL
        ):
            logger.error(
                "polling queue %s failed (%d failed polls in a row): %s",
                self.queue_name,
                self._poll_failures,
                redact(exc),
            )
            self._last_error_log = now

    def _process(self, message: QueueMessage) -> None:
        try:
            self._handle(message)
        except AzureError as exc:
            logger.error(
                "completing message %s of queue %s failed; it will reappear after its lease: %s",
                message.id,
                self.queue_name,
                redact(exc),
            )
        except Exception:
            logger.exception(
                "processing message %s of queue %s failed", message.id, self.queue_name
            )
        finally:
            with self._capacity:
                self._in_flight -= 1
                self._capacity.notify_all()

    def _handle(self, message: QueueMessage) -> None:
        # A received message always has a pop receipt and a dequeue count.
        received_receipt = str(message.pop_receipt)
        dequeue_count = message.dequeue_count or 0
        limit = self._options.max_dequeue_count
        if dequeue_count > limit:
            reason = (
                f"its dequeue count {dequeue_count} is above maxDequeueCount {limit}"
            )
            self._move_to_poison(message, received_receipt, reason)
            return

        try:
            body = decode_message_body(message.content, self._options.message_encoding)
        except ValueError as exc:
            reason = f"its content is not valid base64 ({exc})"
            self._move_to_poison(message, received_receipt, reason)
            return

        lease = self._leases.track(message.id, received_receipt)
        try:
            self._invoke(message, body)
            succeeded = True
        except FunctionFailedError:
            succeeded = False
        except UnicodeDecodeError as exc:
            logger.error(
                "function %s takes str, but message %s of queue %s is not UTF-8 text: %s",
                self.definition.name,
                message.id,
                self.queue_name,
                exc,
            )
            succeeded = False
        finally:
            pop_receipt = self._leases.release(lease)

        if succeeded:
            self._delete(message, pop_receipt)
        else:
            self._complete_failure(message, pop_receipt, dequeue_count)

    def _invoke(self, message: QueueMessage, body: bytes) -> None:
        trigger_value = self._trigger_value(message, body)
        detail = f"queue={self.queue_name} message_id={message.id} dequeue_count={message.dequeue_count}"
        self._invoker.invoke(self.definition, trigger_value, detail)

    def _trigger_value(self, message: QueueMessage, body: bytes) -> Any:
        """Return the trigger argument in the type the parameter declares: str, bytes or QueueMessage."""
        annotation = self.definition.payload_annotation
        if annotation is bytes:
            return body
        if annotation is str:
            return body.decode("utf-8")
        return FunctionQueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )

    def _complete_failure(
        self, message: QueueMessage, pop_receipt: str, dequeue_count: int
    ) -> None:
        if self._poison_client is None:
            # The host leaves the message invisible when there is no poison
            # queue, so that it does not retry in a tight loop.
            logger.warning(
                "message %s of queue %s failed; no poison queue, so it stays invisible for %d s",
                message.id,
                self.queue_name,
                self._lease_seconds,
            )
        elif dequeue_count >= self._options.max_dequeue_count:
            self._move_to_poison(
                message,
                pop_receipt,
                f"it failed {dequeue_count} times (maxDequeueCount)",
            )
        else:
            delay = int(self._options.visibility_timeout.total_seconds())
            self._update_visibility(message, pop_receipt, delay)
            logger.warning(
                "function %s failed on message %s (dequeue count %d of %d); it will be retried in %d s",
                self.definition.name,
                message.id,
                dequeue_count,
                self._options.max_dequeue_count,
                delay,
            )

    def _move_to_poison(
        self, message: QueueMessage, pop_receipt: str, reason: str
    ) -> None:
        """Copy the message's original content to the poison queue, then delete it."""
        if self._poison_client is None:
            logger.error(
                "message %s of queue %s is poison because %s; no poison queue",
                message.id,
                self.queue_name,
                reason,
            )
            return

        try:
            self._poison_client.send_message(message.content)
        except ResourceNotFoundError:
            ensure_queue(self._poison_client)
            self._poison_client.send_message(message.content)
        self._delete(message, pop_receipt)
        logger.error(
            "moved message %s from queue %s to %s because %s",
            message.id,
            self.queue_name,
            self._poison_client.queue_name,
            reason,
        )

    def _delete(self, message: QueueMessage, pop_receipt: str) -> None:
        try:
            self._client.delete_message(message.id, pop_receipt)
        except HttpResponseError as exc:
            self._ignore_lost_message(message, exc)

    def _update_visibility(
        self, message: QueueMessage, pop_receipt: str, seconds: int
    ) -> None:
        try:
            self._client.update_message(
                message.id, pop_receipt, visibility_timeout=seconds
            )
        except HttpResponseError as exc:
            self._ignore_lost_message(message, exc)

    def _ignore_lost_message(
        self, message: QueueMessage, exc: HttpResponseError
    ) -> None:
        """Log a message that is gone or whose lease another receiver took over, as the host ignores both."""
        if isinstance(exc, ResourceNotFoundError):
            logger.warning(
                "message %s is no longer in queue %s", message.id, self.queue_name
            )
        elif getattr(exc, "error_code", None) == "PopReceiptMismatch":
            logger.warning(
                "message %s of queue %s was received again after its lease ended",
                message.id,
                self.queue_name,
            )
        else:
            raise exc
