"""Webhook storm: many product changes delivered with duplicates and in shuffled order, while
the app processes them. Every change leads to at most one unit of work, a redelivered webhook
to none, and the app's catalog ends equal to the dev store's."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from integrations.shopify import services
from integrations.shopify.models import WebhookDelivery, WebhookDeliveryStatus
from integrations.shopify.sync import shop_sync_pages
from tests.shopify.conftest import SHOP, install_shop, start_devstore
from wearview.catalog.models import Product

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


@pytest.fixture
def storm_store(shopify_settings, live_server, transactional_db, eager_celery, monkeypatch):
    # The studio's reaction to synced products (classification, jobs) is not under test here.
    from wearview.studio import tasks as studio_tasks

    monkeypatch.setattr(studio_tasks.process_synced_products_task, "delay", lambda *a, **k: None)
    from integrations.shopify import tasks as shopify_tasks

    monkeypatch.setattr(shopify_tasks.copy_images_task, "delay", lambda *a, **k: None)
    store = start_devstore(
        shopify_settings, app_url=live_server.url, webhook_timeout=20.0, webhook_max_attempts=5
    )
    yield store
    store.stop()


def test_webhook_storm_one_unit_per_change(storm_store, sizes, tmp_path, monkeypatch, figure):
    from integrations.shopify.devstore import write_sample_catalog

    products = sizes.webhook_products
    csv_path = write_sample_catalog(
        tmp_path, products=products, variants_per_product=1, images_per_product=0
    )
    shop = install_shop(storm_store, plan="plus", catalog=(csv_path, tmp_path / "images"))
    shop_sync_pages(shop=shop, copy_images=False)
    assert Product.objects.filter(shop=shop).count() == products

    synced: Counter[str] = Counter()
    lock = threading.Lock()
    sync_one = services.product_sync_one

    def counting_sync(*, shop, shopify_id, cause="webhook", **kwargs):
        with lock:
            synced[shopify_id] += 1
        return sync_one(shop=shop, shopify_id=shopify_id, cause=cause, **kwargs)

    monkeypatch.setattr(services, "product_sync_one", counting_sync)

    duplicates = 0.3
    # Each change is sent once, or twice for the duplicated share, so this many changes give
    # the target number of deliveries.
    changes = round(sizes.webhook_deliveries / (1 + duplicates))
    storm_store.set_faults(
        seed=8,
        webhook_duplicate_rate=duplicates,
        webhook_duplicate_copies=2,
        webhook_reorder_window=25,
    )
    ids = sorted(storm_store.shop(SHOP).products)
    rng = random.Random(8)
    started = time.monotonic()
    for number in range(changes):
        storm_store.merchant_update_product(SHOP, rng.choice(ids), title=f"Change {number}")
    assert storm_store.wait_idle(timeout=60 + changes * 0.2), "the dev store kept sending"
    seconds = time.monotonic() - started
    storm_store.set_faults()

    attempts = [d for d in storm_store.deliveries if d.topic == "products/update"]
    sent_ids = Counter(d.headers["X-Shopify-Webhook-Id"] for d in attempts)
    failed_sends = [d for d in attempts if d.status != 200]
    recorded = WebhookDelivery.objects.filter(shop_domain=SHOP, topic="products/update")
    processed = recorded.filter(status=WebhookDeliveryStatus.PROCESSED).count()

    # Every distinct webhook was recorded exactly once, whatever the number of copies.
    assert recorded.count() == len(sent_ids) == changes
    assert not recorded.filter(status=WebhookDeliveryStatus.RECEIVED).exists()
    # One unit of work per change at most: skipped deliveries (older than the stored copy)
    # did none, and no duplicate did any.
    assert sum(synced.values()) == processed <= changes
    assert len(attempts) >= changes * 1.2
    # The catalog ends equal to the dev store's.
    titles = dict(Product.objects.filter(shop=shop).values_list("shopify_id", "title"))
    expected = {p.gid: p.title for p in storm_store.shop(SHOP).products.values()}
    assert titles == expected
    figure("webhook_deliveries", len(attempts))
    figure("webhook_changes", changes)
    figure("webhook_duplicate_copies", len(attempts) - len(sent_ids))
    figure("webhook_units_of_work", sum(synced.values()))
    figure("webhook_non_2xx_responses", len(failed_sends))
    figure("webhook_storm_seconds", round(seconds, 1), "s")
