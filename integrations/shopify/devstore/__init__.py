"""Local stand-in for the Shopify Admin API (version 2026-10) used by the demo and the tests."""

from .faults import Faults
from .models import API_VERSION
from .sample import write_sample_catalog
from .seed import SeedReport
from .store import DevStore, GraphQLResponse
from .throttle import PLANS, Plan
from .webhooks import DeliveryAttempt, encode_payload

__all__ = [
    "API_VERSION",
    "PLANS",
    "DeliveryAttempt",
    "DevStore",
    "Faults",
    "GraphQLResponse",
    "Plan",
    "SeedReport",
    "encode_payload",
    "write_sample_catalog",
]
