"""Fault switches for the dev store, drawn from a seeded random generator so runs repeat."""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, fields


@dataclass
class Faults:
    """Shares (0 to 1) of requests or deliveries that misbehave, and how.

    Request faults apply to GraphQL requests. `throttle_rate` returns `THROTTLED` in an HTTP
    200 whatever points the bucket has left, `http_429_rate` returns 429 with `Retry-After`,
    `server_error_rate` returns 500, 502 or 503, and `timeout_rate` delays the request for
    `timeout_seconds` and then closes the connection without a response.
    `upload_error_rate` makes staged upload targets return 503.

    Webhook faults: `webhook_duplicate_rate` sends a delivery `webhook_duplicate_copies` times
    with the same ids, `webhook_delay_seconds` delays every delivery, and
    `webhook_reorder_window` collects that many deliveries and sends them in a shuffled order.

    `media_fail_rate` makes media fail after processing, with `IMAGE_PROCESSING_FAILURE`.
    `bulk_children_last` writes bulk results with every root object first and the child
    lines after them in a shuffled order, which Shopify's format allows.
    """

    throttle_rate: float = 0.0
    http_429_rate: float = 0.0
    server_error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 10.0
    upload_error_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_duplicate_copies: int = 2
    webhook_delay_seconds: float = 0.0
    webhook_reorder_window: int = 0
    media_fail_rate: float = 0.0
    bulk_children_last: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("_rate") and not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"Fault {item.name}={value!r} must be between 0 and 1.")
            if isinstance(value, int | float) and value < 0:
                raise ValueError(f"Fault {item.name}={value!r} must not be negative.")
        if self.webhook_duplicate_copies < 2:
            copies = self.webhook_duplicate_copies
            raise ValueError(f"Fault webhook_duplicate_copies={copies!r} must be 2 or more.")

    def as_dict(self) -> dict:
        return asdict(self)


class FaultPlan:
    """The active `Faults` and the seeded random generator that decides each draw."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults
            self._random = random.Random(faults.seed)

    def draw(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._random.random() < rate

    def choice(self, options: list):
        with self._lock:
            return self._random.choice(options)

    def shuffle(self, items: list) -> list:
        with self._lock:
            shuffled = list(items)
            self._random.shuffle(shuffled)
        # A window of two or more must come out of order, or the switch tests nothing.
        if len(shuffled) > 1 and shuffled == items:
            shuffled.reverse()
        return shuffled

    def request_fault(self) -> str | None:
        """Pick the fault for one GraphQL request: throttled, 429, 5xx, timeout or none."""
        faults = self.faults
        if self.draw(faults.timeout_rate):
            return "timeout"
        if self.draw(faults.server_error_rate):
            return "server_error"
        if self.draw(faults.http_429_rate):
            return "http_429"
        if self.draw(faults.throttle_rate):
            return "throttled"
        return None
