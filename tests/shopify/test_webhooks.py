"""The webhook endpoint, driven by the dev store's signed deliveries over HTTP."""

import json

import pytest
import requests

from integrations.shopify.devstore.auth import sign_webhook_body
from integrations.shopify.models import WebhookDelivery, WebhookDeliveryStatus
from integrations.shopify.sync import shop_sync_pages
from tests.shopify.conftest import API_SECRET, SHOP, install_shop, start_devstore
from wearview.catalog.models import Product
from wearview.catalog.signals import products_synced

RAW_BODIES = {
    "ampersand_escape": b'{"id":1,"title":"Shirts \\u0026 Tops"}',
    "escaped_slash": b'{"id":2,"url":"https:\\/\\/cdn.example\\/a.jpg"}',
    "non_ascii": '{"id":3,"title":"Crêpe de Chine – 女装 😀"}'.encode(),
    "line_separator": b'{"id":4,"title":"one\\u2028two"}',
    "raw_line_separator": '{"id":5,"title":"one\u2028two"}'.encode(),
}


@pytest.fixture
def app_store(shopify_settings, live_server, transactional_db, eager_celery):
    store = start_devstore(shopify_settings, app_url=live_server.url)
    yield store
    store.stop()


def _signed_post(url: str, body: bytes, headers: dict) -> requests.Response:
    return requests.post(f"{url}/shopify/webhooks", data=body, headers=headers, timeout=10)


def _headers(body: bytes, *, webhook_id: str = "w-1", secret: str = API_SECRET, **extra) -> dict:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "customers/data_request",
        "X-Shopify-Hmac-Sha256": sign_webhook_body(secret, body),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": f"event-{webhook_id}",
        "X-Shopify-Triggered-At": "2026-12-04T20:00:00Z",
    }
    headers.update(extra)
    return headers


@pytest.mark.parametrize("name", sorted(RAW_BODIES))
def test_webhook_hmac_raw_body_accepted(app_store, name):
    body = RAW_BODIES[name]
    app_store.add_shop(SHOP)
    app_store.send_webhook(SHOP, "customers/data_request", body=body)
    assert app_store.wait_idle(10)

    attempts = app_store.deliveries
    assert [a.status for a in attempts] == [200]
    assert attempts[0].body == body
    delivery = WebhookDelivery.objects.get()
    assert delivery.payload == json.loads(body)
    assert delivery.status == WebhookDeliveryStatus.PROCESSED


def test_webhook_tampered_body_401(live_server, shopify_settings, transactional_db):
    body = RAW_BODIES["ampersand_escape"]
    headers = _headers(body)
    # The same text with the escape decoded: equal JSON, different bytes.
    tampered = b'{"id":1,"title":"Shirts & Tops"}'
    response = _signed_post(live_server.url, tampered, headers)
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_webhook_wrong_secret_401(live_server, shopify_settings, transactional_db):
    body = RAW_BODIES["non_ascii"]
    response = _signed_post(live_server.url, body, _headers(body, secret="another-app-secret"))
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("header", ["X-Shopify-Hmac-Sha256"])
def test_webhook_missing_signature_401(live_server, shopify_settings, transactional_db, header):
    body = RAW_BODIES["escaped_slash"]
    headers = _headers(body)
    del headers[header]
    response = _signed_post(live_server.url, body, headers)
    assert response.status_code == 401
    assert not WebhookDelivery.objects.exists()


def test_webhook_empty_signature_401(live_server, shopify_settings, transactional_db):
    body = RAW_BODIES["escaped_slash"]
    response = _signed_post(live_server.url, body, _headers(body, **{"X-Shopify-Hmac-Sha256": ""}))
    assert response.status_code == 401


@pytest.mark.parametrize("header", ["X-Shopify-Topic", "X-Shopify-Webhook-Id"])
def test_webhook_missing_shopify_header_400(
    live_server, shopify_settings, transactional_db, header
):
    body = RAW_BODIES["escaped_slash"]
    headers = _headers(body)
    del headers[header]
    response = _signed_post(live_server.url, body, headers)
    assert response.status_code == 400
    assert not WebhookDelivery.objects.exists()


def test_webhook_get_not_allowed(live_server, shopify_settings, transactional_db):
    response = requests.get(f"{live_server.url}/shopify/webhooks", timeout=10)
    assert response.status_code == 405


def _count_synced(causes: list):
    def receiver(sender, shop_id, product_ids, cause, **kwargs):
        causes.append((cause, tuple(product_ids)))

    products_synced.connect(receiver, weak=False)
    return receiver


def test_webhook_five_deliveries_one_unit_of_work(app_store, sample_catalog):
    shop = install_shop(app_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop)
    product_id = next(iter(app_store.shop(SHOP).products))
    causes: list = []
    receiver = _count_synced(causes)
    try:
        app_store.merchant_update_product(SHOP, product_id, title="Renamed once")
        assert app_store.wait_idle(10)
        first = app_store.deliveries[-1]
        assert first.status == 200
        for _ in range(4):
            response = _signed_post(app_store.app_url, first.body, first.headers)
            assert response.status_code == 200
    finally:
        products_synced.disconnect(receiver)

    assert WebhookDelivery.objects.filter(topic="products/update").count() == 1
    assert [cause for cause, _ in causes] == ["webhook"]
    assert Product.objects.get(shopify_id=f"gid://shopify/Product/{product_id}").title == (
        "Renamed once"
    )


def test_webhook_same_event_new_id_skipped(app_store, sample_catalog):
    shop = install_shop(app_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop)
    product_id = next(iter(app_store.shop(SHOP).products))
    app_store.merchant_update_product(SHOP, product_id, title="Event once")
    assert app_store.wait_idle(10)
    first = app_store.deliveries[-1]
    headers = dict(first.headers, **{"X-Shopify-Webhook-Id": "another-webhook-id"})
    causes: list = []
    receiver = _count_synced(causes)
    try:
        assert _signed_post(app_store.app_url, first.body, headers).status_code == 200
    finally:
        products_synced.disconnect(receiver)
    assert causes == []
    second = WebhookDelivery.objects.get(webhook_id="another-webhook-id")
    assert second.status == WebhookDeliveryStatus.SKIPPED


def test_webhook_reordered_updates_end_newest(app_store, sample_catalog):
    shop = install_shop(app_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop)
    product_id = next(iter(app_store.shop(SHOP).products))
    app_store.set_faults(webhook_reorder_window=4, seed=3)
    for title in ["First", "Second", "Third", "Fourth"]:
        app_store.merchant_update_product(SHOP, product_id, title=title)
    assert app_store.wait_idle(15)

    sent = [a.payload["title"] for a in app_store.deliveries if a.topic == "products/update"]
    assert sorted(sent) == ["First", "Fourth", "Second", "Third"]
    assert sent != ["First", "Second", "Third", "Fourth"]
    product = Product.objects.get(shopify_id=f"gid://shopify/Product/{product_id}")
    assert product.title == "Fourth"


def test_webhook_older_payload_skipped(app_store, sample_catalog):
    shop = install_shop(app_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop)
    product_id = next(iter(app_store.shop(SHOP).products))
    app_store.merchant_update_product(SHOP, product_id, title="Current")
    assert app_store.wait_idle(10)
    current = app_store.deliveries[-1]
    older = dict(current.payload, title="Old", updated_at="2020-01-01T00:00:00Z")
    body = json.dumps(older).encode()
    headers = dict(
        current.headers,
        **{
            "X-Shopify-Webhook-Id": "older-delivery",
            "X-Shopify-Event-Id": "older-event",
            "X-Shopify-Hmac-Sha256": sign_webhook_body(API_SECRET, body),
        },
    )
    assert _signed_post(app_store.app_url, body, headers).status_code == 200
    late = WebhookDelivery.objects.get(webhook_id="older-delivery")
    assert late.status == WebhookDeliveryStatus.SKIPPED
    assert "newer" in late.error_message
    product = Product.objects.get(shopify_id=f"gid://shopify/Product/{product_id}")
    assert product.title == "Current"
