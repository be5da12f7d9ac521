"""Webhook delivery and signing, fault switches and bulk operations of the dev store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests

from integrations.shopify.devstore import Faults, encode_payload

from .conftest import API_SECRET, SHOP, Admin, make_jpeg

UPDATE_TITLE = """
mutation Rename($product: ProductUpdateInput!) {
  productUpdate(product: $product) { product { id title } userErrors { field message } }
}
"""
WEBHOOK_HEADERS = (
    "X-Shopify-Topic",
    "X-Shopify-Hmac-Sha256",
    "X-Shopify-Shop-Domain",
    "X-Shopify-API-Version",
    "X-Shopify-Webhook-Id",
    "X-Shopify-Event-Id",
    "X-Shopify-Triggered-At",
)


def tee(store):
    return next(p for p in store.shop(SHOP).products.values() if p.handle == "linen-tee")


def independent_hmac(body: bytes) -> str:
    return base64.b64encode(hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_product_update_sends_signed_webhook(store, admin, receiver):
    product = tee(store)
    body = admin(
        UPDATE_TITLE, {"product": {"id": product.gid, "title": "Linen Tee <new> & \u2028 é"}}
    )
    assert body["data"]["productUpdate"]["userErrors"] == []
    assert store.wait_idle(5)
    request = receiver.requests[-1]
    assert request["path"] == "/shopify/webhooks"
    for name in WEBHOOK_HEADERS:
        assert request["headers"].get(name), name
    headers = request["headers"]
    assert headers["X-Shopify-Topic"] == "products/update"
    assert headers["X-Shopify-Shop-Domain"] == SHOP
    assert headers["X-Shopify-API-Version"] == "2026-10"
    assert hmac.compare_digest(headers["X-Shopify-Hmac-Sha256"], independent_hmac(request["body"]))
    assert b"\\u0026" in request["body"]
    assert b"\\u2028" in request["body"]
    assert "é".encode() in request["body"]
    payload = json.loads(request["body"])
    assert payload["title"] == "Linen Tee <new> & \u2028 é"
    assert payload["admin_graphql_api_id"] == product.gid
    assert payload["handle"] == "linen-tee"
    assert [variant["sku"] for variant in payload["variants"]] == ["TEE-S", "TEE-L"]
    assert len(payload["images"]) == 2
    assert len(payload["media"]) == 2
    assert payload["variants"][0]["image_id"] == payload["images"][1]["id"]


def test_encode_payload_escapes_like_rails():
    raw = encode_payload({"text": "a&b<c>\u2028/ü"})
    assert raw == '{"text":"a\\u0026b\\u003cc\\u003e\\u2028/ü"}'.encode()


def test_merchant_actions_send_matching_topics(store, token, receiver, catalog):
    _, images = catalog
    created = store.merchant_create_product(
        SHOP, "Denim Jacket", variants=[{"sku": "DJ-M", "price": "80", "options": ["M"]}]
    )
    store.merchant_add_image(SHOP, created.id, images / "tee-front.jpg", alt="flat lay")
    store.merchant_update_product(SHOP, created.id, title="Denim Jacket, washed")
    store.merchant_delete_product(SHOP, created.id)
    assert store.wait_idle(5)
    assert receiver.topics() == [
        "products/create",
        "products/update",
        "products/update",
        "products/delete",
    ]
    assert receiver.payloads("products/delete") == [{"id": created.id}]
    assert receiver.payloads("products/update")[0]["images"][0]["alt"] == "flat lay"


def test_no_webhooks_before_install(store, receiver):
    store.merchant_update_product(SHOP, tee(store).id, title="Quiet change")
    assert store.wait_idle(5)
    assert receiver.requests == []


def test_subscription_callback_receives_topic(store, admin, receiver):
    body = admin(
        """mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
          webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
            webhookSubscription { id topic uri } userErrors { field message } } }""",
        {"topic": "PRODUCTS_DELETE", "sub": {"uri": f"{receiver.url}/hooks/delete"}},
    )
    assert body["data"]["webhookSubscriptionCreate"]["userErrors"] == []
    store.merchant_delete_product(SHOP, tee(store).id)
    assert store.wait_idle(5)
    paths = sorted(request["path"] for request in receiver.requests)
    assert paths == ["/hooks/delete", "/shopify/webhooks"]


def test_failed_delivery_is_retried_and_recorded(store, token, receiver):
    receiver.statuses = [500]
    store.merchant_update_product(SHOP, tee(store).id, title="Retry me")
    assert store.wait_idle(5)
    attempts = store.deliveries
    assert [(a.attempt, a.status, a.ok) for a in attempts] == [(1, 500, False), (2, 200, True)]
    assert attempts[0].webhook_id == attempts[1].webhook_id


def test_fault_duplicate_webhooks(store, token, receiver):
    store.set_faults(webhook_duplicate_rate=1.0)
    store.merchant_update_product(SHOP, tee(store).id, title="Twice")
    assert store.wait_idle(5)
    ids = [request["headers"]["X-Shopify-Webhook-Id"] for request in receiver.requests]
    assert len(ids) == 2
    assert ids[0] == ids[1]


def test_fault_reordered_webhooks(store, token, receiver):
    store.set_faults(webhook_reorder_window=3, seed=7)
    product_id = tee(store).id
    for index in range(3):
        store.merchant_update_product(SHOP, product_id, title=f"Version {index}")
        time.sleep(0.01)
    assert store.wait_idle(5)
    titles = [payload["title"] for payload in receiver.payloads("products/update")]
    assert sorted(titles) == ["Version 0", "Version 1", "Version 2"]
    assert titles != ["Version 0", "Version 1", "Version 2"]


def test_fault_delayed_webhooks(store, token, receiver):
    store.set_faults(webhook_delay_seconds=0.5)
    started = time.monotonic()
    store.merchant_update_product(SHOP, tee(store).id, title="Later")
    time.sleep(0.2)
    assert receiver.requests == []
    assert store.wait_idle(5)
    assert len(receiver.requests) == 1
    assert time.monotonic() - started >= 0.5


def test_fault_throttled_requests(store, admin):
    store.set_faults(throttle_rate=1.0)
    body = admin("{ shop { name } }")
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 2000


def test_fault_server_errors_and_429(store, admin):
    store.set_faults(server_error_rate=1.0)
    assert admin.post("{ shop { name } }").status_code in (500, 502, 503)
    store.set_faults(http_429_rate=1.0)
    response = admin.post("{ shop { name } }")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.0"


def test_fault_share_is_seeded(store, admin):
    outcomes = []
    for _ in range(2):
        store.set_faults(server_error_rate=0.5, seed=42)
        outcomes.append([admin.post("{ shop { name } }").status_code for _ in range(12)])
    assert outcomes[0] == outcomes[1]
    assert 200 in outcomes[0]
    assert any(status >= 500 for status in outcomes[0])


def test_fault_timeout(store, admin):
    store.set_faults(timeout_rate=1.0, timeout_seconds=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        admin.post("{ shop { name } }", timeout=0.3)


def test_fault_media_fails_after_processing(store, admin):
    from .test_media import attach, stage_and_upload, wait_for_status

    store.set_faults(media_fail_rate=1.0)
    resource_url = stage_and_upload(admin, make_jpeg(64, 64), "late.jpg")
    node = wait_for_status(admin, attach(admin, tee(store).gid, resource_url))
    assert node["status"] == "FAILED"
    assert node["mediaErrors"][0]["code"] == "IMAGE_PROCESSING_FAILURE"


def test_faults_reject_invalid_share():
    with pytest.raises(ValueError, match="between 0 and 1"):
        Faults(throttle_rate=1.5)


def test_control_endpoint_sets_faults(store, admin):
    response = requests.post(
        f"{store.base_url}/devstore/faults", json={"http_429_rate": 1.0}, timeout=10
    )
    assert response.status_code == 200
    assert response.json()["http_429_rate"] == 1.0
    assert admin.post("{ shop { name } }").status_code == 429


BULK = """
mutation Run($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""
BULK_QUERY = """
{ products { edges { node { id handle
    variants { edges { node { id sku } } }
    media { edges { node { id ... on MediaImage { image { url } } } } } } } } }
"""


def test_bulk_operation_writes_jsonl_with_parent_ids(store, admin, receiver):
    started = admin(BULK, {"query": BULK_QUERY})["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    operation_id = started["bulkOperation"]["id"]
    busy = admin(BULK, {"query": BULK_QUERY})["data"]["bulkOperationRunQuery"]
    assert busy["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        current = admin("{ currentBulkOperation { id status objectCount rootObjectCount url } }")
        operation = current["data"]["currentBulkOperation"]
        if operation["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    assert operation["id"] == operation_id
    assert operation["rootObjectCount"] == "3"
    lines = [
        json.loads(line) for line in requests.get(operation["url"], timeout=10).text.splitlines()
    ]
    assert len(lines) == int(operation["objectCount"]) == 3 + 4 + 3
    products = {line["id"]: line for line in lines if "__parentId" not in line}
    assert len(products) == 3
    children = [line for line in lines if "__parentId" in line]
    assert all(child["__parentId"] in products for child in children)
    assert all("variants" not in line and "media" not in line for line in products.values())
    assert store.wait_idle(5)
    finish = receiver.payloads("bulk_operations/finish")
    assert finish == [
        {
            "admin_graphql_api_id": operation_id,
            "completed_at": finish[0]["completed_at"],
            "created_at": finish[0]["created_at"],
            "error_code": None,
            "status": "completed",
            "type": "query",
        }
    ]
    node = admin(
        "query($id: ID!) { node(id: $id) { ... on BulkOperation { status } } }",
        {"id": operation_id},
    )
    assert node["data"]["node"]["status"] == "COMPLETED"


def test_bulk_query_must_select_parent_id(admin):
    query = "{ products { edges { node { handle variants { edges { node { sku } } } } } } }"
    payload = admin(BULK, {"query": query})["data"]["bulkOperationRunQuery"]
    assert payload["bulkOperation"] is None
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert "must select the 'id' field" in payload["userErrors"][0]["message"]


def test_bulk_query_invalid_document(admin):
    payload = admin(BULK, {"query": "{ products { edges { node { nope } } } }"})["data"][
        "bulkOperationRunQuery"
    ]
    assert payload["userErrors"][0]["code"] == "INVALID"
    assert "nope" in payload["userErrors"][0]["message"]


def test_shops_share_one_server(store, token):
    store.add_shop("second.myshopify.com", plan="plus")
    second = Admin(
        store, store.install("second.myshopify.com")["access_token"], "second.myshopify.com"
    )
    body = second("{ shop { myshopifyDomain } products(first: 5) { nodes { id } } }")
    assert body["data"]["shop"]["myshopifyDomain"] == "second.myshopify.com"
    assert body["data"]["products"]["nodes"] == []
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 20000.0


def test_send_webhook_keeps_raw_body(store, receiver):
    raw = b'{"id":1,"title":"a\\u0026b \\/ \xc3\xbc \\u2028"}'
    store.send_webhook(SHOP, "shop/redact", body=raw)
    assert store.wait_idle(5)
    request = receiver.requests[0]
    assert request["body"] == raw
    assert request["headers"]["X-Shopify-Topic"] == "shop/redact"
    assert request["headers"]["X-Shopify-Hmac-Sha256"] == independent_hmac(raw)


def test_control_endpoint_merchant_edits(store, token, receiver):
    created = requests.post(
        f"{store.base_url}/devstore/products",
        json={"shop": SHOP, "title": "Control Tee"},
        timeout=10,
    ).json()
    updated = requests.post(
        f"{store.base_url}/devstore/products/update",
        json={"shop": SHOP, "id": created["id"], "changes": {"title": "Control Tee 2"}},
        timeout=10,
    )
    assert updated.status_code == 200
    deleted = requests.post(
        f"{store.base_url}/devstore/products/delete",
        json={"shop": SHOP, "id": created["id"]},
        timeout=10,
    )
    assert deleted.status_code == 200
    assert store.wait_idle(5)
    assert receiver.topics() == ["products/create", "products/update", "products/delete"]


def test_fault_webhook_delivered_five_times(store, token, receiver):
    store.set_faults(webhook_duplicate_rate=1.0, webhook_duplicate_copies=5)
    store.merchant_update_product(SHOP, tee(store).id, title="Five times")
    assert store.wait_idle(5)
    event_ids = {request["headers"]["X-Shopify-Event-Id"] for request in receiver.requests}
    webhook_ids = {request["headers"]["X-Shopify-Webhook-Id"] for request in receiver.requests}
    assert len(receiver.requests) == 5
    assert len(event_ids) == 1
    assert len(webhook_ids) == 1


def test_fault_upload_errors(store, admin):
    from .test_media import STAGE

    store.set_faults(upload_error_rate=1.0)
    body = admin(
        STAGE,
        {"input": [{"resource": "IMAGE", "filename": "a.jpg", "mimeType": "image/jpeg"}]},
    )
    target = body["data"]["stagedUploadsCreate"]["stagedTargets"][0]
    response = requests.put(target["url"], data=make_jpeg(20, 20), timeout=10)
    assert response.status_code == 503
    store.set_faults()
    response = requests.put(target["url"], data=make_jpeg(20, 20), timeout=10)
    assert response.status_code == 200


def test_fault_bulk_children_after_all_roots(store, admin):
    store.set_faults(bulk_children_last=True, seed=3)
    started = admin(BULK, {"query": BULK_QUERY})["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    deadline = time.monotonic() + 5
    operation = None
    while time.monotonic() < deadline:
        operation = admin("{ currentBulkOperation { status url } }")["data"]["currentBulkOperation"]
        if operation["status"] == "COMPLETED":
            break
        time.sleep(0.05)
    lines = [
        json.loads(line) for line in requests.get(operation["url"], timeout=10).text.splitlines()
    ]
    is_child = ["__parentId" in line for line in lines]
    assert is_child == [False] * 3 + [True] * 7
