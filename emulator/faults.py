"""Fault injection: rules that tests add through the control endpoint.

A rule fires for the requests that match it, or for the operations when it
is of a resource kind. It fires for each of the next ``count`` matches, or
at random with probability ``rate`` from a generator seeded with ``seed``.
With both, it fires at random and at most ``count`` times.

Request kinds act before authentication, as a front-door failure would.
``error`` returns an error status, with Retry-After for 429 and 503.
``drop`` closes the connection without a response, before or after the
request is handled. ``slow`` delays the response.

Resource kinds act inside an operation. ``artifact_failure`` fails an
artifact by name and ``custom_image_failure`` fails a custom image
creation. ``blob_copy_failure`` hands out an already expired SAS, so that
the copy or upload that uses it fails. ``stall`` keeps a VM or custom image
in Creating until it is deleted.
"""

from __future__ import annotations

import itertools
import random
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import InvalidControlRequest

REQUEST_KINDS = ("error", "drop", "slow")
RESOURCE_KINDS = (
    "artifact_failure",
    "custom_image_failure",
    "blob_copy_failure",
    "stall",
)
ERROR_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_PATH = r"^/subscriptions/"


@dataclass
class FaultRule:
    id: str
    kind: str
    method: str = ".*"
    path: str = DEFAULT_PATH
    subject: str = ".*"
    statuses: list[int] = field(default_factory=lambda: [500])
    retry_after_seconds: float = 10.0
    delay_seconds: float = 1.0
    after_handling: bool = False
    message: str | None = None
    rate: float | None = None
    seed: int | None = None
    count: int | None = None
    matched: int = 0
    injected: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._method = re.compile(self.method, re.IGNORECASE)
        self._path = re.compile(self.path, re.IGNORECASE)
        self._subject = re.compile(self.subject, re.IGNORECASE)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.injected >= self.count

    def matches_request(self, method: str, path: str) -> bool:
        return bool(self._method.fullmatch(method) and self._path.search(path))

    def matches_subject(self, subject: str) -> bool:
        return bool(self._subject.fullmatch(subject))

    def fire(self) -> bool:
        """Count a match and decide whether this match gets the fault."""
        self.matched += 1
        if self.exhausted:
            return False
        if self.rate is not None and self._rng.random() >= self.rate:
            return False
        self.injected += 1
        return True

    def choose_status(self) -> int:
        return self._rng.choice(self.statuses)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "rate": self.rate,
            "seed": self.seed,
            "count": self.count,
            "matched": self.matched,
            "injected": self.injected,
        }
        if self.kind in REQUEST_KINDS:
            result.update(method=self.method, path=self.path)
        else:
            result["subject"] = self.subject
        if self.kind == "error":
            result.update(
                status=self.statuses, retry_after_seconds=self.retry_after_seconds
            )
        if self.kind == "slow":
            result["delay_seconds"] = self.delay_seconds
        if self.kind == "drop":
            result["after_handling"] = self.after_handling
        if self.message is not None:
            result["message"] = self.message
        return result


@dataclass(frozen=True)
class RequestFault:
    """The fault that the server applies to one request."""

    rule_id: str
    kind: str
    status: int = 0
    retry_after_seconds: float = 0.0
    delay_seconds: float = 0.0
    after_handling: bool = False
    message: str | None = None

    def label(self) -> str:
        if self.kind == "error":
            return f"error:{self.status}"
        return self.kind


class FaultInjector:
    """Hold the active rules and decide which fault, if any, applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> FaultRule:
        rule = parse_rule(spec, f"fault-{next(self._ids)}")
        with self._lock:
            self._rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) != before

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def for_request(self, method: str, path: str) -> RequestFault | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind not in REQUEST_KINDS or not rule.matches_request(
                    method, path
                ):
                    continue
                if not rule.fire():
                    continue
                return RequestFault(
                    rule_id=rule.id,
                    kind=rule.kind,
                    status=rule.choose_status() if rule.kind == "error" else 0,
                    retry_after_seconds=rule.retry_after_seconds,
                    delay_seconds=rule.delay_seconds,
                    after_handling=rule.after_handling,
                    message=rule.message,
                )
        return None

    def for_resource(self, kind: str, subject: str) -> FaultRule | None:
        """Return the rule that fires for an operation on subject, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and rule.matches_subject(subject) and rule.fire():
                    return rule
        return None


def parse_rule(spec: dict[str, Any], rule_id: str) -> FaultRule:
    """Build a rule from its control JSON, or raise InvalidControlRequest."""
    if not isinstance(spec, dict):
        raise InvalidControlRequest("A fault rule must be a JSON object.")

    kind = spec.get("kind")
    if kind not in REQUEST_KINDS + RESOURCE_KINDS:
        allowed = ", ".join(REQUEST_KINDS + RESOURCE_KINDS)
        raise InvalidControlRequest(
            f"Invalid fault kind {kind!r}; use one of: {allowed}."
        )

    known = {
        "kind",
        "method",
        "path",
        "status",
        "retry_after_seconds",
        "delay_seconds",
        "after_handling",
        "message",
        "rate",
        "seed",
        "count",
        "artifact",
        "name",
    }
    unknown = sorted(set(spec) - known)
    if unknown:
        raise InvalidControlRequest(f"Unknown fault rule fields: {', '.join(unknown)}.")

    try:
        rule = FaultRule(
            id=rule_id,
            kind=kind,
            method=str(spec.get("method", ".*")),
            path=str(spec.get("path", DEFAULT_PATH)),
            subject=str(spec.get("artifact", spec.get("name", ".*"))),
            statuses=_statuses(spec.get("status", 500)),
            retry_after_seconds=float(spec.get("retry_after_seconds", 10.0)),
            delay_seconds=float(spec.get("delay_seconds", 1.0)),
            after_handling=bool(spec.get("after_handling", False)),
            message=None if spec.get("message") is None else str(spec["message"]),
            rate=None if spec.get("rate") is None else float(spec["rate"]),
            seed=None if spec.get("seed") is None else int(spec["seed"]),
            count=None if spec.get("count") is None else int(spec["count"]),
        )
    except (TypeError, ValueError, re.error) as exc:
        raise InvalidControlRequest(f"Invalid fault rule: {exc}.") from exc

    if rule.rate is not None and not 0 <= rule.rate <= 1:
        raise InvalidControlRequest(f"rate must be between 0 and 1, got {rule.rate}.")
    if rule.count is not None and rule.count < 0:
        raise InvalidControlRequest(f"count must not be negative, got {rule.count}.")
    if rule.delay_seconds < 0:
        raise InvalidControlRequest("delay_seconds must not be negative.")
    return rule


def _statuses(value: Any) -> list[int]:
    statuses = (
        [int(item) for item in value] if isinstance(value, list) else [int(value)]
    )
    for status in statuses:
        if status not in ERROR_STATUSES:
            allowed = ", ".join(str(code) for code in ERROR_STATUSES)
            raise ValueError(f"status {status} is not one of {allowed}")
    if not statuses:
        raise ValueError("status must name at least one HTTP status")
    return statuses
