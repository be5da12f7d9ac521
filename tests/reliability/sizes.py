"""Scenario sizes of the reliability suite.

`WEARVIEW_RELIABILITY=short` (the default, what `make test` runs) keeps every scenario with
smaller counts; `WEARVIEW_RELIABILITY=long` runs the counts the reliability goals name.
"""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    mode: str
    # Worker kills: SIGKILLs of the CPU worker over a run of this many jobs.
    kills: int
    kill_jobs: int
    # Webhook storm: deliveries (duplicates included) across this many products.
    webhook_deliveries: int
    webhook_products: int
    # Load: seconds of webhook load, candidates in the review queue, products synced.
    load_seconds: float
    review_candidates: int
    sync_products: int
    sync_webhooks: int
    # Dev store faults: products synced and publications made under faults.
    fault_products: int
    fault_publications: int


SHORT = Sizes(
    mode="short",
    kills=6,
    kill_jobs=4,
    webhook_deliveries=500,
    webhook_products=100,
    load_seconds=5.0,
    review_candidates=5_000,
    sync_products=300,
    sync_webhooks=60,
    fault_products=40,
    fault_publications=3,
)

LONG = Sizes(
    mode="long",
    kills=50,
    kill_jobs=20,
    webhook_deliveries=10_000,
    webhook_products=100,
    load_seconds=20.0,
    review_candidates=100_000,
    sync_products=5_000,
    sync_webhooks=500,
    fault_products=300,
    fault_publications=10,
)


def current_sizes() -> Sizes:
    """Return the sizes chosen by WEARVIEW_RELIABILITY; an unknown value is an error."""
    mode = os.environ.get("WEARVIEW_RELIABILITY", "short").strip().lower() or "short"
    if mode not in ("short", "long"):
        raise ValueError(
            f"WEARVIEW_RELIABILITY={mode!r} is not a suite size; use 'short' or 'long'."
        )
    return SHORT if mode == "short" else LONG
