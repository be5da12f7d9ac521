"""Leaky bucket of query cost points per shop, with Shopify's plan sizes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    bucket_size: float
    restore_rate: float


PLANS = {
    "standard": Plan("standard", 2000.0, 100.0),
    "advanced": Plan("advanced", 4000.0, 200.0),
    "plus": Plan("plus", 20000.0, 1000.0),
}


def plan_named(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise ValueError(f"Unknown plan {name!r}; use one of {sorted(PLANS)}.") from None


class LeakyBucket:
    """Cost points available to one shop: spent per request, restored at the plan's rate."""

    def __init__(self, plan: Plan, clock: Callable[[], float] = time.monotonic) -> None:
        self.plan = plan
        self._clock = clock
        self._available = plan.bucket_size
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._available = min(
            self.plan.bucket_size, self._available + elapsed * self.plan.restore_rate
        )
        self._updated = now

    def try_spend(self, cost: float) -> bool:
        """Take `cost` points if the bucket has them; return False to throttle the request."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.plan.bucket_size, self._available + points)

    def drain(self, points: float | None = None) -> None:
        """Empty the bucket, or take `points` from it, as a burst of other requests would."""
        with self._lock:
            self._refill()
            self._available = 0.0 if points is None else max(0.0, self._available - points)

    def status(self) -> dict:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": self.plan.bucket_size,
                "currentlyAvailable": int(self._available),
                "restoreRate": self.plan.restore_rate,
            }
