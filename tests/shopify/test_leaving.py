"""app/uninstalled, scopes, bulk finish and the compliance topics, delivered by the dev store."""

import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopNotConnected
from integrations.shopify.models import SyncStatus, WebhookDelivery
from integrations.shopify.services import publication_start
from integrations.shopify.sync import shop_sync_bulk_start, shop_sync_pages
from integrations.shopify.tasks import publish_publication_task, sync_shop_task
from tests.shopify.conftest import SHOP, install_shop, start_devstore
from tests.shopify.test_publish import approved_candidate
from wearview.catalog.models import ImageOrigin, Product, ProductImage, Shop
from wearview.catalog.selectors import variants_needing_on_model
from wearview.studio.models import GenerationJob, JobState, Publication, PublicationStatus
from wearview.studio.services import job_create, job_transition


@pytest.fixture
def app_store(shopify_settings, live_server, transactional_db, eager_celery):
    store = start_devstore(shopify_settings, app_url=live_server.url)
    yield store
    store.stop()


@pytest.fixture
def synced_app_shop(app_store, sample_catalog):
    shop = install_shop(app_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop)
    return shop


def test_uninstall_stops_shop_work(synced_app_shop, app_store):
    products = list(Product.objects.filter(shop=synced_app_shop).order_by("pk")[:3])
    queued, _ = job_create(product=products[0], source_image=None, variants=[], preset="restyle")
    reviewing, _ = job_create(product=products[1], source_image=None, variants=[], preset="restyle")
    for state in ["preparing", "generating", "in_review"]:
        job_transition(job_id=reviewing.pk, to_state=state)
    candidate = approved_candidate(products[2])
    publication = publication_start(candidate_id=candidate.pk)
    app_store.wait_idle(10)
    # The publish task ran eagerly at commit; make this one look half done again.
    GenerationJob.objects.filter(pk=candidate.job_id).update(state=JobState.PUBLISHING)
    Publication.objects.filter(pk=publication.pk).update(status=PublicationStatus.STAGED)

    app_store.uninstall(SHOP)
    assert app_store.wait_idle(10)

    shop = Shop.objects.get(pk=synced_app_shop.pk)
    assert shop.uninstalled_at is not None
    assert shop.access_token == ""
    assert shop.refresh_token == ""
    assert GenerationJob.objects.get(pk=queued.pk).state == JobState.CANCELLED
    assert GenerationJob.objects.get(pk=reviewing.pk).state == JobState.CANCELLED
    publishing = GenerationJob.objects.get(pk=candidate.job_id)
    assert publishing.state == JobState.FAILED
    assert "uninstalled" in publishing.failure_reason
    # Later work for the shop ends in a handled state, without a retry loop.
    with pytest.raises(ShopNotConnected):
        ShopifyClient(shop).execute("shop")
    assert sync_shop_task.apply(args=(shop.pk,)).result is None
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.FAILED
    assert publish_publication_task.apply(args=(publication.pk,)).result == PublicationStatus.FAILED


def test_scopes_update_stored(synced_app_shop, app_store):
    app_store.send_webhook(
        SHOP, "app/scopes_update", {"id": 1, "previous": [], "current": ["read_products"]}
    )
    assert app_store.wait_idle(10)
    assert Shop.objects.get(domain=SHOP).scopes == "read_products"


def test_bulk_finish_webhook_completes_sync(app_store, sample_catalog):
    shop = install_shop(app_store, catalog=sample_catalog)
    run = shop_sync_bulk_start(shop=shop)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status != SyncStatus.RUNNING:
            break
        time.sleep(0.1)
    assert run.status == SyncStatus.SUCCEEDED
    assert Product.objects.filter(shop=shop).count() == 30
    assert WebhookDelivery.objects.filter(topic="bulk_operations/finish").exists()


def test_shop_redact_erases_data(synced_app_shop, app_store):
    image = ProductImage.objects.filter(shop=synced_app_shop).first()
    name = default_storage.save(f"shops/{synced_app_shop.pk}/images/x.jpg", ContentFile(b"jpeg"))
    ProductImage.objects.filter(pk=image.pk).update(stored=name)
    candidate = approved_candidate(image.product)
    candidate_name = candidate.image.name

    app_store.send_webhook(SHOP, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    assert app_store.wait_idle(10)

    assert not Shop.objects.filter(domain=SHOP).exists()
    assert not Product.objects.exists()
    assert not default_storage.exists(name)
    assert not default_storage.exists(candidate_name)
    record = WebhookDelivery.objects.get(topic="shop/redact")
    assert record.payload == {}
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize("topic", ["customers/data_request", "customers/redact"])
def test_customer_topics_answered(synced_app_shop, app_store, topic):
    app_store.send_webhook(SHOP, topic, {"shop_domain": SHOP, "customer": {"id": 7}})
    assert app_store.wait_idle(10)
    assert [a.status for a in app_store.deliveries if a.topic == topic] == [200]
    assert WebhookDelivery.objects.get(topic=topic).status == "processed"


def test_publish_webhook_starts_no_generation(synced_app_shop, app_store):
    causes: list[str] = []
    from wearview.catalog.signals import products_synced

    def receiver(sender, shop_id, product_ids, cause, **kwargs):
        causes.append(cause)

    product = Product.objects.filter(shop=synced_app_shop).order_by("pk")[1]
    candidate = approved_candidate(product)
    products_synced.connect(receiver, weak=False)
    try:
        publication = publication_start(candidate_id=candidate.pk)
        assert app_store.wait_idle(15)
    finally:
        products_synced.disconnect(receiver)

    publication.refresh_from_db()
    assert publication.status == PublicationStatus.READY
    updates = [a for a in app_store.deliveries if a.topic == "products/update"]
    assert updates and all(a.status == 200 for a in updates)
    assert "publish" in causes
    image = ProductImage.objects.get(shopify_media_id=publication.shopify_media_id)
    assert image.origin == ImageOrigin.WEARVIEW
    assert not variants_needing_on_model(shop=synced_app_shop).filter(product=product).exists()
    assert GenerationJob.objects.filter(product=product).count() == 1
