"""Full, bulk and incremental sync against the dev store, and the bulk JSONL parser."""

import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations.shopify.client import ShopifyClient
from integrations.shopify.models import SyncRun, SyncStatus
from integrations.shopify.sync import (
    BulkJsonlParser,
    image_copy,
    product_sync_one,
    shop_sync_bulk_finish,
    shop_sync_bulk_start,
    shop_sync_pages,
)
from integrations.shopify.tasks import copy_images_task
from tests.shopify.conftest import SHOP, install_shop
from wearview.catalog.models import Product, ProductImage, Variant
from wearview.catalog.services import ImageRecord, ProductRecord, VariantRecord, products_upsert
from wearview.catalog.signals import products_synced


def _short_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.02))


def _collect_synced():
    seen: list[int] = []

    def receiver(sender, shop_id, product_ids, cause, **kwargs):
        seen.extend(product_ids)

    products_synced.connect(receiver, weak=False)
    return seen, receiver


def test_sync_pages_visits_every_product_once(
    db, installed_shop, devstore, django_capture_on_commit_callbacks, eager_celery
):
    seen, receiver = _collect_synced()
    try:
        with django_capture_on_commit_callbacks(execute=True):
            client = ShopifyClient(installed_shop)
            run = shop_sync_pages(shop=installed_shop, client=client, page_size=7)
    finally:
        products_synced.disconnect(receiver)

    expected = {f"gid://shopify/Product/{pid}" for pid in devstore.shop(SHOP).products}
    assert len(expected) == 30
    stored = set(Product.objects.filter(shop=installed_shop).values_list("shopify_id", flat=True))
    assert stored == expected
    assert len(seen) == 30
    assert len(set(seen)) == 30
    assert run.status == SyncStatus.SUCCEEDED
    assert run.products_seen == 30
    assert run.pages == 5
    assert client.stats.by_operation["ProductsPage"] == 5
    assert Variant.objects.filter(shop=installed_shop).count() == 60
    assert ProductImage.objects.filter(shop=installed_shop).count() == 90


def test_sync_pages_empty_shop(db, devstore):
    shop = install_shop(devstore, "empty-shop.myshopify.com")
    run = shop_sync_pages(shop=shop)
    assert run.status == SyncStatus.SUCCEEDED
    assert run.products_seen == 0
    assert run.pages == 1
    assert not Product.objects.filter(shop=shop).exists()


def test_sync_pages_links_variant_images(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    product = Product.objects.filter(shop=installed_shop).first()
    first_variant = product.variants.order_by("position").first()
    # The sample catalog shows the second image for the first variant.
    linked = list(first_variant.images.values_list("position", flat=True))
    assert linked == [2]
    assert product.images.filter(variants__isnull=True).count() == 2
    assert first_variant.selected_options == [{"name": "Size", "value": "XS"}]


def test_sync_pages_marks_missing_deleted(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    gone = next(iter(devstore.shop(SHOP).products))
    devstore.merchant_delete_product(SHOP, gone)
    run = shop_sync_pages(shop=installed_shop)
    assert run.products_deleted == 1
    product = Product.objects.get(shopify_id=f"gid://shopify/Product/{gone}")
    assert product.deleted_at is not None
    assert Product.objects.filter(shop=installed_shop, deleted_at__isnull=True).count() == 29


def test_sync_pages_fetches_large_product_alone(db, devstore, sample_catalog):
    shop = install_shop(devstore, catalog=sample_catalog)
    sizes = ["XS", "S", "M", "L", "XL", "XXL"]
    variants = [
        {"sku": f"BIG-{size}-{color}", "options": [size, color]}
        for size in sizes
        for color in ["Red", "Blue"]
    ]
    big = devstore.merchant_create_product(SHOP, "Big tee", variants=variants)
    client = ShopifyClient(shop)
    shop_sync_pages(shop=shop, client=client)
    stored = Product.objects.get(shopify_id=f"gid://shopify/Product/{big.id}")
    assert stored.variants.count() == 12
    assert client.stats.by_operation["Product"] == 1


def test_sync_pages_resumes_after_failure(db, installed_shop, devstore):
    client = ShopifyClient(installed_shop, sleep=_short_sleep, max_attempts=1)
    devstore.set_faults(server_error_rate=1.0)
    with pytest.raises(Exception, match="ProductsPage"):
        shop_sync_pages(shop=installed_shop, client=client)
    devstore.set_faults()
    run = SyncRun.objects.get(shop=installed_shop)
    assert run.status == SyncStatus.RUNNING
    finished = shop_sync_pages(shop=installed_shop)
    assert finished.pk == run.pk
    assert finished.status == SyncStatus.SUCCEEDED
    assert Product.objects.filter(shop=installed_shop).count() == 30


FAULTS = {
    "throttled": {"throttle_rate": 0.4},
    "http_429": {"http_429_rate": 0.3},
    "server_error": {"server_error_rate": 0.3},
    "timeout": {"timeout_rate": 0.3, "timeout_seconds": 0.6},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_sync_pages_completes_under_faults(db, installed_shop, devstore, shopify_settings, fault):
    shopify_settings.SHOPIFY_HTTP_TIMEOUT = 0.3
    devstore.set_faults(seed=7, **FAULTS[fault])
    client = ShopifyClient(installed_shop, sleep=_short_sleep, max_attempts=10)
    run = shop_sync_pages(shop=installed_shop, client=client, page_size=5)
    assert run.status == SyncStatus.SUCCEEDED
    assert client.stats.retries + client.stats.throttled > 0
    expected = {f"gid://shopify/Product/{pid}" for pid in devstore.shop(SHOP).products}
    stored = set(Product.objects.filter(shop=installed_shop).values_list("shopify_id", flat=True))
    assert stored == expected
    assert Variant.objects.filter(shop=installed_shop).count() == 60
    assert ProductImage.objects.filter(shop=installed_shop).count() == 90


def test_sync_bulk_stores_catalog(db, installed_shop, devstore):
    run = shop_sync_bulk_start(shop=installed_shop)
    assert run.bulk_operation_id.startswith("gid://shopify/BulkOperation/")
    for _ in range(100):
        run = shop_sync_bulk_finish(run_id=run.pk)
        if run.status != SyncStatus.RUNNING:
            break
        time.sleep(0.05)
    assert run.status == SyncStatus.SUCCEEDED
    assert run.products_seen == 30
    assert Product.objects.filter(shop=installed_shop).count() == 30
    assert Variant.objects.filter(shop=installed_shop).count() == 60
    assert ProductImage.objects.filter(shop=installed_shop).count() == 90
    product = Product.objects.filter(shop=installed_shop).first()
    assert product.variants.order_by("position").first().images.count() == 1


def test_product_sync_one_marks_gone_deleted(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    gone = next(iter(devstore.shop(SHOP).products))
    devstore.merchant_delete_product(SHOP, gone)
    assert product_sync_one(shop=installed_shop, shopify_id=f"gid://shopify/Product/{gone}") is None
    assert Product.objects.get(shopify_id=f"gid://shopify/Product/{gone}").deleted_at is not None


def test_image_copy_by_content_hash(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    ids = list(ProductImage.objects.filter(shop=installed_shop).values_list("pk", flat=True)[:4])
    assert copy_images_task(ids) == 4
    image = ProductImage.objects.get(pk=ids[0])
    assert len(image.content_hash) == 64
    assert image.stored.name.endswith(f"{image.content_hash}.jpg")
    assert image.stored.size > 0
    # The same url again is not downloaded a second time.
    assert image_copy(image_id=ids[0]) is False
    assert copy_images_task(ids) == 0


def test_image_copy_same_content_shares_file(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    first, second = ProductImage.objects.filter(shop=installed_shop)[:2]
    image_copy(image_id=first.pk)
    first.refresh_from_db()
    # A second image row pointing at the same file: same bytes, so the same stored name.
    ProductImage.objects.filter(pk=second.pk).update(url=first.url)
    assert image_copy(image_id=second.pk) is True
    second.refresh_from_db()
    assert second.content_hash == first.content_hash
    assert second.stored.name == first.stored.name


# --- bulk JSONL parser ---------------------------------------------------------------------------


def _lines(*nodes) -> list[bytes]:
    return [json.dumps(node).encode() for node in nodes]


P1, P2 = "gid://shopify/Product/1", "gid://shopify/Product/2"
V1, V2 = "gid://shopify/ProductVariant/11", "gid://shopify/ProductVariant/21"
M1, M2 = "gid://shopify/MediaImage/101", "gid://shopify/MediaImage/201"


def test_bulk_parser_children_after_siblings():
    lines = _lines(
        {"id": P1, "title": "One", "updatedAt": "2026-01-01T00:00:00Z"},
        {"id": P2, "title": "Two", "updatedAt": "2026-01-01T00:00:00Z"},
        {"id": V2, "sku": "TWO", "position": 1, "__parentId": P2},
        {"id": V1, "sku": "ONE", "__parentId": P1},
        {"id": M1, "__parentId": V1},
        {"id": M1, "status": "READY", "image": {"url": "http://x/1.jpg"}, "__parentId": P1},
        {"id": M2, "status": "READY", "image": {"url": "http://x/2.jpg"}, "__parentId": P2},
    )
    catalog = BulkJsonlParser().feed_all(lines)
    assert list(catalog.products) == [P1, P2]
    one, two = catalog.products[P1], catalog.products[P2]
    assert [v.sku for v in one.variants] == ["ONE"]
    assert one.variants[0].media_ids == [M1]
    assert [i.shopify_media_id for i in one.images] == [M1]
    assert [v.sku for v in two.variants] == ["TWO"]
    assert two.images[0].url == "http://x/2.jpg"


def test_bulk_parser_null_image_while_processing():
    lines = _lines(
        {"id": P1, "title": "One"},
        {"id": M1, "status": "PROCESSING", "image": None, "__parentId": P1},
    )
    record = BulkJsonlParser().feed_all(lines).products[P1]
    assert len(record.images) == 1
    assert record.images[0].url == ""
    assert record.images[0].media_status == "PROCESSING"


def test_bulk_parser_skips_media_without_image_field():
    lines = _lines(
        {"id": P1, "title": "One"},
        {"id": "gid://shopify/Video/5", "status": "READY", "__parentId": P1},
    )
    assert BulkJsonlParser().feed_all(lines).products[P1].images == []


def test_bulk_parser_unknown_parent_raises():
    lines = _lines({"id": V1, "sku": "ONE", "__parentId": P1})
    with pytest.raises(ValueError, match="__parentId"):
        BulkJsonlParser().feed_all(lines)


def test_bulk_parser_blank_lines_ignored():
    lines = [b"", *_lines({"id": P1, "title": "One"}), b"  "]
    assert list(BulkJsonlParser().feed_all(lines).products) == [P1]


# --- upserts -------------------------------------------------------------------------------------


def _records(count: int, offset: int = 0) -> list[ProductRecord]:
    records = []
    for number in range(offset, offset + count):
        records.append(
            ProductRecord(
                shopify_id=f"gid://shopify/Product/{number}",
                title=f"Product {number}",
                variants=[
                    VariantRecord(
                        shopify_id=f"gid://shopify/ProductVariant/{number}{v}",
                        sku=f"SKU-{number}-{v}",
                        position=v,
                        media_ids=[f"gid://shopify/MediaImage/{number}1"],
                    )
                    for v in (1, 2)
                ],
                images=[
                    ImageRecord(
                        shopify_media_id=f"gid://shopify/MediaImage/{number}{i}",
                        url=f"http://cdn.test/{number}/{i}.jpg",
                        position=i,
                    )
                    for i in (1, 2, 3)
                ],
            )
        )
    return records


def test_products_upsert_constant_queries(db, shop):
    # A page of up to 19 such products fits in one INSERT per table under SQLite's limit of 999
    # parameters per statement (58 image rows of 17 columns); beyond it Django splits inserts.
    with CaptureQueriesContext(connection) as small:
        products_upsert(shop=shop, records=_records(3), cause="sync")
    with CaptureQueriesContext(connection) as large:
        products_upsert(shop=shop, records=_records(19, offset=100), cause="sync")
    with CaptureQueriesContext(connection) as again:
        products_upsert(shop=shop, records=_records(19, offset=100), cause="sync")
    assert len(small) == len(large) == len(again)
    assert Variant.objects.filter(shop=shop).count() == 44
    assert (
        ProductImage.objects.get(shopify_media_id="gid://shopify/MediaImage/1001").variants.count()
        == 2
    )


def test_products_upsert_skips_older_record(db, shop):
    from datetime import UTC, datetime

    newer = _records(1)[0]
    newer.updated_at = datetime(2026, 5, 1, tzinfo=UTC)
    newer.title = "Newer"
    products_upsert(shop=shop, records=[newer], cause="webhook")
    older = _records(1)[0]
    older.updated_at = datetime(2026, 4, 1, tzinfo=UTC)
    older.title = "Older"
    result = products_upsert(shop=shop, records=[older], cause="webhook")
    assert result.skipped_stale == [older.shopify_id]
    assert Product.objects.get(shopify_id=older.shopify_id).title == "Newer"


def test_products_upsert_removes_dropped_children(db, shop):
    products_upsert(shop=shop, records=_records(1), cause="sync")
    record = _records(1)[0]
    record.variants = record.variants[:1]
    record.images = record.images[1:]
    products_upsert(shop=shop, records=[record], cause="sync")
    product = Product.objects.get(shopify_id=record.shopify_id)
    assert product.variants.count() == 1
    assert sorted(product.images.values_list("position", flat=True)) == [2, 3]


def test_image_copy_failure_recorded(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    image = ProductImage.objects.filter(shop=installed_shop).first()
    good_url = image.url
    ProductImage.objects.filter(pk=image.pk).update(url=good_url.replace("/cdn/", "/missing/"))
    assert copy_images_task([image.pk]) == 0
    image.refresh_from_db()
    assert image.error_code == "copy_failed"
    assert "Copy to storage failed" in image.error_message
    ProductImage.objects.filter(pk=image.pk).update(url=good_url)
    assert copy_images_task([image.pk]) == 1
    image.refresh_from_db()
    assert image.error_code == ""
    assert image.stored
