"""Bad and hostile input: each item of the generated corpus gets its clear error on its own
object, and the rest of its batch completes."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from integrations.shopify.devstore import DevStore
from integrations.shopify.devstore.auth import sign_webhook_body
from integrations.shopify.models import WebhookDelivery
from tests.factories import make_image, make_product, make_shop
from tests.reliability.make_hostile_corpus import (
    CSV_CASES,
    GRAPHQL_CASES,
    IMAGE_CASES,
    WEBHOOK_CASES,
    corpus_size,
    graphql_node,
    write_corpus,
)
from tests.shopify.conftest import API_KEY, API_SECRET, SHOP
from wearview.catalog.models import Product, ProductImage
from wearview.imaging.errors import ImageError
from wearview.imaging.load import load_image

pytestmark = pytest.mark.reliability


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("hostile"))


def test_corpus_has_at_least_thirty_inputs(corpus):
    files = sum(len(paths) for paths in corpus.values()) - 1 + len(GRAPHQL_CASES)
    assert corpus_size() >= 30
    assert files == corpus_size()


@pytest.mark.parametrize("name", sorted(IMAGE_CASES))
def test_image_corpus_loader_codes(corpus, name):
    data = corpus["images"][name].read_bytes()
    expected = IMAGE_CASES[name]
    if expected is None:
        loaded = load_image(data, name=name)
        assert loaded.rgb.ndim == 3
        assert loaded.rgb.shape[2] == 3
        return
    with pytest.raises(ImageError) as caught:
        load_image(data, name=name)
    assert caught.value.code == expected
    assert name in str(caught.value)


@pytest.fixture
def media_storage(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }


def test_image_corpus_classify_batch(db, corpus, media_storage, figure):
    from wearview.catalog.classification import images_classify

    shop = make_shop(installed_at=timezone.now())
    product = make_product(shop, product_type="Shirts")
    by_name = {}
    for name in sorted(IMAGE_CASES):
        image = make_image(product, kind=None)
        stored = default_storage.save(
            f"corpus/{name}", ContentFile(corpus["images"][name].read_bytes())
        )
        ProductImage.objects.filter(pk=image.pk).update(stored=stored)
        by_name[name] = image.pk

    report = images_classify(image_ids=list(by_name.values()))

    failed_ids = {pk for pk, _ in report.failed}
    for name, pk in by_name.items():
        row = ProductImage.objects.get(pk=pk)
        expected = IMAGE_CASES[name]
        if expected is None:
            assert pk not in failed_ids, (name, row.error_message)
            assert hasattr(row, "classification"), name
        else:
            assert row.error_code == expected, name
            assert row.error_message, name
    bad = sum(1 for code in IMAGE_CASES.values() if code)
    assert len(failed_ids) == bad
    assert report.classified == len(IMAGE_CASES) - bad
    figure("images_rejected", bad)
    figure("images_classified", report.classified)


@pytest.mark.parametrize("bad_name", ["truncated.jpg", "bomb_20000x20000.png", "vector.svg"])
def test_bad_source_fails_only_its_job(db, corpus, media_storage, bad_name):
    from tests.imaging.garments import render
    from wearview.studio.generation import job_prepare
    from wearview.studio.models import GenerationJob, JobState
    from wearview.studio.services import job_create

    shop = make_shop(installed_at=timezone.now())
    jobs = {}
    good = io.BytesIO()
    Image.fromarray(render("tshirt", "stripes", width=320, height=400).rgb).save(good, "PNG")
    for name, data in (("good", good.getvalue()), (bad_name, corpus["images"][bad_name])):
        product = make_product(shop, product_type="T-Shirt")
        image = make_image(product)
        raw = data if isinstance(data, bytes) else data.read_bytes()
        stored = default_storage.save(f"sources/{name}", ContentFile(raw))
        ProductImage.objects.filter(pk=image.pk).update(stored=stored)
        image.refresh_from_db()
        job, _ = job_create(product=product, source_image=image, variants=[], preset="restyle")
        jobs[name] = job.pk

    payloads = {name: job_prepare(job_id=pk) for name, pk in jobs.items()}

    bad = GenerationJob.objects.get(pk=jobs[bad_name])
    assert payloads[bad_name] is None
    assert bad.state == JobState.FAILED
    assert bad_name in bad.failure_reason
    good = GenerationJob.objects.get(pk=jobs["good"])
    assert good.state == JobState.GENERATING, good.failure_reason
    assert payloads["good"]["job_id"] == good.pk


def test_csv_corpus_seed_batch(corpus, tmp_path):
    store = DevStore(API_KEY, API_SECRET)
    try:
        outcomes = {}
        for index, name in enumerate(sorted(CSV_CASES)):
            domain = f"csv-{index}.myshopify.com"
            try:
                report = store.add_shop(domain, csv=corpus["csv"][name], images=tmp_path)
            except ValueError as exc:
                outcomes[name] = ("error", str(exc))
            else:
                outcomes[name] = (report.products, "")
    finally:
        store.stop()

    for name, expected in CSV_CASES.items():
        got, message = outcomes[name]
        if expected == "error":
            assert got == "error", name
            assert name in message, (name, message)
        else:
            assert got == expected, (name, outcomes[name])


@pytest.fixture
def webhook_client(client, shopify_settings, db, monkeypatch):
    from integrations.shopify import tasks

    monkeypatch.setattr(tasks.process_webhook_task, "delay", lambda *args: None)
    return client


def _signed_headers(body: bytes, webhook_id: str) -> dict:
    return {
        "HTTP_X_SHOPIFY_TOPIC": "products/update",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP,
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id,
        "HTTP_X_SHOPIFY_API_VERSION": "2026-10",
        "HTTP_X_SHOPIFY_HMAC_SHA256": sign_webhook_body(API_SECRET, body),
    }


def test_webhook_bodies_rejected_clearly(webhook_client, corpus):
    statuses = {}
    for name in sorted(WEBHOOK_CASES):
        body = corpus["webhooks"][name].read_bytes()
        response = webhook_client.post(
            "/shopify/webhooks",
            data=body,
            content_type="application/json",
            **_signed_headers(body, f"bad-{name}"),
        )
        statuses[name] = response.status_code
    good = json.dumps({"id": 5, "updated_at": "2026-12-01T10:00:00Z"}).encode()
    after = webhook_client.post(
        "/shopify/webhooks",
        data=good,
        content_type="application/json",
        **_signed_headers(good, "good-after"),
    )

    assert statuses == WEBHOOK_CASES
    assert after.status_code == 200
    recorded = set(WebhookDelivery.objects.values_list("webhook_id", flat=True))
    accepted = {f"bad-{n}" for n, status in WEBHOOK_CASES.items() if status == 200}
    assert recorded == accepted | {"good-after"}


class _Response:
    def __init__(self, body: dict) -> None:
        self.status_code = 200
        self._body = body
        self.headers: dict[str, str] = {}
        self.text = json.dumps(body)

    def json(self) -> dict:
        return self._body


class _PageSession:
    """A requests stand-in that returns one products_page response with the given nodes."""

    def __init__(self, nodes: list) -> None:
        self.nodes = nodes

    def post(self, url, json=None, headers=None, timeout=None):  # noqa: A002 - requests' name
        cost = {
            "requestedQueryCost": 10,
            "actualQueryCost": 10,
            "throttleStatus": {
                "maximumAvailable": 2000,
                "currentlyAvailable": 1990,
                "restoreRate": 100,
            },
        }
        return _Response(
            {
                "data": {
                    "products": {
                        "nodes": self.nodes,
                        "pageInfo": {"hasNextPage": False, "endCursor": "end"},
                    }
                },
                "extensions": {"cost": cost},
            }
        )


def test_graphql_nulls_sync_batch(db, shopify_settings, caplog, figure):
    from integrations.shopify.client import ShopifyClient
    from integrations.shopify.sync import shop_sync_pages

    shop = make_shop(
        domain=SHOP, installed_at=timezone.now(), access_token="shpat_graphql_nulls_0123456789"
    )
    shopify_settings.SHOPIFY_ADMIN_BASE_URL = "http://127.0.0.1:9"
    cases = list(GRAPHQL_CASES)
    nodes = [graphql_node(100 + index, case) for index, case in enumerate(cases)]
    nodes.append(graphql_node(999))
    client = ShopifyClient(shop, session=_PageSession(nodes), sleep=lambda _: None)

    with caplog.at_level(logging.WARNING):
        run = shop_sync_pages(shop=shop, client=client, copy_images=False)

    stored = set(Product.objects.filter(shop=shop).values_list("shopify_id", flat=True))
    for index, case in enumerate(cases):
        gid = f"gid://shopify/Product/{100 + index}"
        if GRAPHQL_CASES[case] is None:
            assert gid in stored, case
        else:
            assert gid not in stored, case
    assert "gid://shopify/Product/999" in stored
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == sum(1 for v in GRAPHQL_CASES.values() if v == "skip")
    assert run.status == "succeeded"
    figure("graphql_nodes_stored", len(stored))
