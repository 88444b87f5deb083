"""ARM request throttling: token buckets per subscription.

Each subscription has one bucket per request category, with the sizes and
refill rates of ARM's regional throttling: reads 250 with 25 per second,
writes 200 with 10 per second, deletes 200 with 10 per second. Source:
learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling.
Buckets refill in emulated seconds, so a faster clock refills them faster.

NOTE: ARM also keeps buckets per principal and a global subscription
limit; the emulator keeps the subscription buckets only.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from emulator.clock import ScaledClock
from emulator.errors import SubscriptionRequestsThrottled

CATEGORIES = ("reads", "writes", "deletes")
_METHOD_CATEGORY = {"GET": "reads", "HEAD": "reads", "DELETE": "deletes"}


@dataclass
class BucketLimits:
    capacity: float
    refill_per_second: float

    def to_dict(self) -> dict[str, float]:
        return {"capacity": self.capacity, "refill_per_second": self.refill_per_second}


def default_limits() -> dict[str, BucketLimits]:
    return {
        "reads": BucketLimits(250, 25),
        "writes": BucketLimits(200, 10),
        "deletes": BucketLimits(200, 10),
    }


def category_of(method: str) -> str:
    return _METHOD_CATEGORY.get(method.upper(), "writes")


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class Throttle:
    """Take one token per ARM request; raise a 429 when the bucket is empty."""

    def __init__(self, clock: ScaledClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.enabled = True
        self.limits = default_limits()
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def reset(self) -> None:
        with self._lock:
            self.enabled = True
            self.limits = default_limits()
            self._buckets.clear()

    def configure(self, settings: dict[str, Any]) -> None:
        """Apply a control request: enabled flag and per-category limits."""
        with self._lock:
            if "enabled" in settings:
                self.enabled = bool(settings["enabled"])
            for category in CATEGORIES:
                if category in settings:
                    values = settings[category]
                    current = self.limits[category]
                    self.limits[category] = BucketLimits(
                        float(values.get("capacity", current.capacity)),
                        float(
                            values.get("refill_per_second", current.refill_per_second)
                        ),
                    )
            self._buckets.clear()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self.enabled,
                **{name: limits.to_dict() for name, limits in self.limits.items()},
            }

    def take(self, subscription_id: str, method: str) -> dict[str, str]:
        """Consume a token and return the rate-limit headers for the response."""
        category = category_of(method)
        header = f"x-ms-ratelimit-remaining-subscription-{category}"
        now = self._clock.now()
        with self._lock:
            limits = self.limits[category]
            bucket = self._refilled(subscription_id, category, limits, now)
            if not self.enabled:
                return {header: str(int(bucket.tokens))}
            if bucket.tokens < 1:
                raise self._throttled(subscription_id, category, limits, bucket, header)
            bucket.tokens -= 1
            return {header: str(int(bucket.tokens))}

    def _refilled(
        self, subscription_id: str, category: str, limits: BucketLimits, now: float
    ) -> _Bucket:
        key = (subscription_id.lower(), category)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(limits.capacity, now)
            self._buckets[key] = bucket
        elapsed = max(0.0, now - bucket.updated_at)
        bucket.tokens = min(
            limits.capacity, bucket.tokens + elapsed * limits.refill_per_second
        )
        bucket.updated_at = now
        return bucket

    def _throttled(
        self,
        subscription_id: str,
        category: str,
        limits: BucketLimits,
        bucket: _Bucket,
        header: str,
    ) -> SubscriptionRequestsThrottled:
        if limits.refill_per_second > 0:
            azure_wait = (1 - bucket.tokens) / limits.refill_per_second
        else:
            azure_wait = 3600.0
        kind = category.removesuffix("s")
        return SubscriptionRequestsThrottled(
            f"Number of '{kind}' requests for subscription '{subscription_id}' exceeded "
            f"the limit of {limits.capacity:g} with {limits.refill_per_second:g} tokens "
            f"per second. Please try again after '{math.ceil(azure_wait)}' seconds "
            "after additional tokens are available. Refer to "
            "https://aka.ms/arm-throttling for additional information.",
            headers={**retry_after(self._clock, azure_wait), header: "0"},
        )


def retry_after(clock: ScaledClock, azure_seconds: float) -> dict[str, str]:
    """Return a Retry-After header for an Azure duration, in whole wall seconds.

    ARM sends whole seconds, and azure-mgmt-compute parses the header of a
    202 as an integer, so a scaled wait below one second is rounded up to 1.
    """
    wall = clock.wall_seconds(azure_seconds)
    return {"Retry-After": str(max(1, math.ceil(wall)))}
