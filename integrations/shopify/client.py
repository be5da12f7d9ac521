"""The one GraphQL client of the Admin API.

Every request goes through `ShopifyClient.execute`. It sends a document kept in
`graphql/*.graphql` with the shop's token, which is refreshed when it is about to expire. It
paces itself from the `throttleStatus` that Shopify returns, so it rarely meets `THROTTLED`.
It retries `THROTTLED`, 429, 5xx and timeouts with capped exponential backoff and jitter.
Errors name the shop and the operation.
"""

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from django.conf import settings

from integrations.shopify import auth, endpoints
from integrations.shopify.documents import load_document
from integrations.shopify.errors import (
    ShopifyRequestError,
    ShopifyTransientError,
    ShopifyUserErrors,
    ShopNotConnected,
)
from wearview.catalog.models import Shop

logger = logging.getLogger(__name__)

# Attempts for 429, 5xx and timeouts, and separately for THROTTLED responses. After a
# THROTTLED response the wait has a known length, so those get a larger budget.
MAX_ATTEMPTS = 6
MAX_THROTTLED_ATTEMPTS = 30
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass
class BucketEstimate:
    """The client's last view of a shop's leaky bucket, aged by the restore rate."""

    maximum: float
    available: float
    restore_rate: float
    observed_at: float

    def available_now(self, now: float) -> float:
        restored = (now - self.observed_at) * self.restore_rate
        return min(self.maximum, self.available + restored)


@dataclass
class ClientStats:
    """Counters of one client, read by the benchmarks and logged at the end of a sync."""

    requests: int = 0
    requested_cost: int = 0
    actual_cost: int = 0
    throttled: int = 0
    retries: int = 0
    paced_seconds: float = 0.0
    waited_seconds: float = 0.0
    by_operation: dict[str, int] = field(default_factory=dict)


@dataclass
class GraphQLResult:
    """The `data` of a successful response and the cost Shopify charged for it."""

    operation: str
    data: dict[str, Any]
    requested_cost: int
    actual_cost: int
    throttle_status: dict[str, Any]


# Process-wide, because several clients of one shop share the shop's one bucket.
_buckets: dict[str, BucketEstimate] = {}
_requested_costs: dict[tuple[str, str], int] = {}
_buckets_lock = threading.Lock()


def forget_buckets() -> None:
    """Drop what the process learned of every shop's bucket (tests start from a clean slate)."""
    with _buckets_lock:
        _buckets.clear()
        _requested_costs.clear()


class ShopifyClient:
    """Send GraphQL documents to one shop.

    Arguments:
        shop: the shop; its token is read (and refreshed) on each request.
        session: a requests session to reuse connections; one is created when omitted.
        sleep: the function that waits, replaced in tests that count waits.
        rng: the random source of the jitter.
    """

    def __init__(
        self,
        shop: Shop,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.shop = shop
        self.session = session or requests.Session()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.max_attempts = max_attempts
        # Ids of the work the requests serve (a publication and its job), added to log lines.
        self.context = ""
        self.stats = ClientStats()
        self.url = endpoints.graphql_url(shop.domain)
        timeout = settings.SHOPIFY_HTTP_TIMEOUT
        self.timeout = (min(CONNECT_TIMEOUT_SECONDS, timeout), timeout)

    # --- public -------------------------------------------------------------------------------

    def execute(
        self, document: str, variables: dict[str, Any] | None = None, *, idempotent: bool = True
    ) -> GraphQLResult:
        """Send the document `graphql/<document>.graphql` with `variables` and return its data.

        With `idempotent` false (a mutation that creates something), a timeout or 5xx is not
        retried here, because Shopify may have carried the mutation out. The error is raised
        at once, so the caller can check what exists before sending it again. THROTTLED and
        429 responses are retried either way, since Shopify ran nothing.

        Raises:
            ShopNotConnected: the shop is uninstalled or its token is rejected (401).
            ShopifyTransientError: throttling, 429, 5xx or timeouts outlasted the retries.
            ShopifyRequestError: Shopify rejected the request (4xx or GraphQL errors).
        """
        doc = load_document(document)
        payload = {"query": doc.text, "variables": variables or {}}
        operation = doc.operation_name
        failures = 0
        throttled = 0
        refreshed = False
        while True:
            self._pace(operation)
            token = auth.shop_access_token(shop=self.shop)
            self.stats.requests += 1
            self.stats.by_operation[operation] = self.stats.by_operation.get(operation, 0) + 1
            try:
                response = self.session.post(
                    self.url,
                    json=payload,
                    headers={"X-Shopify-Access-Token": token, "Accept": "application/json"},
                    timeout=self.timeout,
                )
            except (requests.Timeout, requests.ConnectionError) as exc:
                failures += 1
                if not idempotent:
                    self._raise_unsafe(operation, f"{type(exc).__name__}: {exc}")
                self._retry_or_raise(operation, failures, f"{type(exc).__name__}: {exc}")
                continue

            status = response.status_code
            if status == 401:
                if not refreshed and self.shop.refresh_token:
                    # A refresh elsewhere may have replaced the token. One forced refresh
                    # separates a stale token from a revoked installation.
                    refreshed = True
                    self._force_refresh()
                    continue
                self._reject_shop(operation, "Shopify answered 401 to the access token")
            if status == 429:
                failures += 1
                self._retry_or_raise(
                    operation, failures, "HTTP 429", retry_after=response.headers.get("Retry-After")
                )
                continue
            if status >= 500:
                failures += 1
                if not idempotent:
                    self._raise_unsafe(operation, f"HTTP {status}")
                self._retry_or_raise(operation, failures, f"HTTP {status}")
                continue
            if status != 200:
                raise ShopifyRequestError(
                    f"Shop {self.shop.domain} operation {operation}: HTTP {status}: "
                    f"{response.text[:300]}"
                )

            body = response.json()
            cost = (body.get("extensions") or {}).get("cost") or {}
            self._observe(operation, cost)
            errors = body.get("errors") or []
            if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
                throttled += 1
                self.stats.throttled += 1
                self._wait_throttled(operation, throttled, cost)
                continue
            if errors:
                messages = "; ".join(str(e.get("message")) for e in errors[:5])
                raise ShopifyRequestError(
                    f"Shop {self.shop.domain} operation {operation} failed: {messages}"
                )
            return GraphQLResult(
                operation=operation,
                data=body.get("data") or {},
                requested_cost=int(cost.get("requestedQueryCost") or 0),
                actual_cost=int(cost.get("actualQueryCost") or 0),
                throttle_status=cost.get("throttleStatus") or {},
            )

    def execute_mutation(
        self,
        document: str,
        root: str,
        variables: dict[str, Any] | None = None,
        *,
        idempotent: bool = True,
    ) -> dict[str, Any]:
        """Run a mutation and return its root field, raising ShopifyUserErrors on `userErrors`."""
        result = self.execute(document, variables, idempotent=idempotent)
        payload = result.data.get(root) or {}
        user_errors = payload.get("userErrors") or []
        if user_errors:
            text = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in user_errors[:5])
            raise ShopifyUserErrors(
                f"Shop {self.shop.domain} operation {result.operation}: {text}",
                user_errors=user_errors,
            )
        return payload

    # --- pacing and retries -------------------------------------------------------------------

    def _pace(self, operation: str) -> None:
        """Wait until the bucket should hold the operation's requested cost."""
        with _buckets_lock:
            bucket = _buckets.get(self.shop.domain)
            needed = _requested_costs.get((self.shop.domain, operation))
        if bucket is None or needed is None or bucket.restore_rate <= 0:
            return
        needed = min(needed, bucket.maximum)
        shortfall = needed - bucket.available_now(time.monotonic())
        if shortfall > 0:
            delay = shortfall / bucket.restore_rate
            self.stats.paced_seconds += delay
            self.sleep(delay)

    def _observe(self, operation: str, cost: dict[str, Any]) -> None:
        status = cost.get("throttleStatus")
        if not status:
            return
        requested = cost.get("requestedQueryCost")
        actual = cost.get("actualQueryCost")
        if actual is not None:
            self.stats.actual_cost += int(actual)
            self.stats.requested_cost += int(requested or 0)
        with _buckets_lock:
            _buckets[self.shop.domain] = BucketEstimate(
                maximum=float(status.get("maximumAvailable") or 0),
                available=float(status.get("currentlyAvailable") or 0),
                restore_rate=float(status.get("restoreRate") or 0),
                observed_at=time.monotonic(),
            )
            if requested is not None:
                _requested_costs[(self.shop.domain, operation)] = int(requested)

    def _wait_throttled(self, operation: str, attempt: int, cost: dict[str, Any]) -> None:
        if attempt > MAX_THROTTLED_ATTEMPTS:
            raise ShopifyTransientError(
                f"Shop {self.shop.domain} operation {operation}: still THROTTLED after "
                f"{MAX_THROTTLED_ATTEMPTS} waits."
            )
        status = cost.get("throttleStatus") or {}
        requested = float(cost.get("requestedQueryCost") or 0)
        available = float(status.get("currentlyAvailable") or 0)
        restore = float(status.get("restoreRate") or 0)
        if restore > 0 and requested > 0:
            delay = max(0.0, requested - available) / restore
        else:
            delay = self._backoff(attempt)
        # A little jitter, so that several workers of one shop do not wake up together.
        delay += self.rng.uniform(0, 0.1 + delay * 0.1)
        logger.info(
            "Shop %s%s operation %s THROTTLED (%s of %s points available); waiting %.2f s",
            self.shop.domain,
            self._context(),
            operation,
            available,
            requested,
            delay,
        )
        self.stats.waited_seconds += delay
        self.sleep(delay)

    def _raise_unsafe(self, operation: str, reason: str) -> None:
        logger.warning(
            "Shop %s%s operation %s may or may not have run (%s); not retried blindly",
            self.shop.domain,
            self._context(),
            operation,
            reason,
        )
        raise ShopifyTransientError(
            f"Shop {self.shop.domain} operation {operation} outcome unknown: {reason}"
        )

    def _context(self) -> str:
        return f" ({self.context})" if self.context else ""

    def _backoff(self, attempt: int) -> float:
        ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)

    def _retry_or_raise(
        self, operation: str, attempt: int, reason: str, retry_after: str | None = None
    ) -> None:
        if attempt >= self.max_attempts:
            logger.warning(
                "Shop %s%s operation %s failed after %s attempts: %s",
                self.shop.domain,
                self._context(),
                operation,
                attempt,
                reason,
            )
            raise ShopifyTransientError(
                f"Shop {self.shop.domain} operation {operation} failed after {attempt} attempts: "
                f"{reason}"
            )
        delay = self._backoff(attempt)
        if retry_after:
            try:
                delay = max(delay, min(BACKOFF_MAX_SECONDS, float(retry_after)))
            except ValueError:
                pass
        self.stats.retries += 1
        self.stats.waited_seconds += delay
        logger.warning(
            "Shop %s%s operation %s attempt %s failed (%s); retrying in %.2f s",
            self.shop.domain,
            self._context(),
            operation,
            attempt,
            reason,
            delay,
        )
        self.sleep(delay)

    # --- tokens -------------------------------------------------------------------------------

    def _force_refresh(self) -> None:
        try:
            fresh = auth.shop_refresh_access_token(shop_id=self.shop.pk, force=True)
        except ShopNotConnected:
            self.shop.refresh_from_db()
            raise
        self.shop = fresh

    def _reject_shop(self, operation: str, reason: str) -> None:
        auth.shop_mark_token_rejected(shop=self.shop, reason=reason)
        raise ShopNotConnected(
            f"Shop {self.shop.domain} operation {operation}: {reason}; the shop's work stops "
            f"until the app is installed again."
        )
