"""The GraphQL client against the dev store: pacing, retries and errors."""

import time

import pytest

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopifyRequestError, ShopifyTransientError
from integrations.shopify.sync import shop_sync_pages
from tests.shopify.conftest import SHOP, install_shop


def test_client_paces_from_throttle_status(db, devstore, sample_catalog):
    shop = install_shop(devstore, plan="plus", catalog=sample_catalog)
    client = ShopifyClient(shop)
    client.execute("shop")
    devstore.bucket(SHOP).drain()
    started = time.monotonic()
    shop_sync_pages(shop=shop, client=client, page_size=13)
    # The first page meets the empty bucket; later pages wait for the points instead.
    assert client.stats.throttled <= 1
    assert client.stats.paced_seconds > 0.2
    assert time.monotonic() - started < 10


def test_client_throttled_then_succeeds(db, devstore):
    shop = install_shop(devstore)
    devstore.set_faults(throttle_rate=0.7, seed=5)
    sleeps: list[float] = []
    client = ShopifyClient(shop, sleep=sleeps.append)
    result = client.execute("shop")
    assert result.data["shop"]["myshopifyDomain"] == SHOP
    assert client.stats.throttled == len(sleeps) > 0
    assert result.actual_cost > 0
    assert result.throttle_status["restoreRate"] == 100


def test_client_gives_up_naming_shop_and_operation(db, devstore):
    shop = install_shop(devstore)
    devstore.set_faults(server_error_rate=1.0)
    sleeps: list[float] = []
    client = ShopifyClient(shop, sleep=sleeps.append, max_attempts=4)
    with pytest.raises(ShopifyTransientError) as failure:
        client.execute("shop")
    assert SHOP in str(failure.value)
    assert "operation Shop" in str(failure.value)
    assert len(sleeps) == 3
    # Backoff grows and stays capped, with jitter inside [ceiling / 2, ceiling].
    assert 0.25 <= sleeps[0] <= 0.5
    assert 0.5 <= sleeps[1] <= 1.0
    assert 1.0 <= sleeps[2] <= 2.0


def test_client_429_waits_retry_after(db, devstore):
    shop = install_shop(devstore)
    devstore.set_faults(http_429_rate=1.0)
    sleeps: list[float] = []
    client = ShopifyClient(shop, sleep=sleeps.append, max_attempts=3)
    with pytest.raises(ShopifyTransientError, match="HTTP 429"):
        client.execute("shop")
    # The dev store sends Retry-After: 2.0, longer than the first backoff steps.
    assert len(sleeps) == 2
    assert min(sleeps) >= 2.0


def test_client_graphql_error_not_retried(db, devstore):
    shop = install_shop(devstore)
    sleeps: list[float] = []
    client = ShopifyClient(shop, sleep=sleeps.append)
    with pytest.raises(ShopifyRequestError, match="operation Product failed"):
        client.execute("product", {"id": 12})
    assert sleeps == []
    assert client.stats.requests == 1


def test_client_unsafe_mutation_not_retried(db, devstore, shopify_settings):
    shopify_settings.SHOPIFY_HTTP_TIMEOUT = 0.3
    shop = install_shop(devstore)
    devstore.set_faults(timeout_rate=1.0, timeout_seconds=0.6)
    client = ShopifyClient(shop, sleep=lambda seconds: None)
    with pytest.raises(ShopifyTransientError, match="outcome unknown"):
        client.execute("staged_uploads_create", {"input": []}, idempotent=False)
    assert client.stats.requests == 1
