"""The sweep that sends again the work whose Celery message was lost."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_image, make_product, make_shop, make_variant
from wearview.catalog.models import ImageKind, Product, ProductImage, Shop
from wearview.studio.models import GenerationJob, JobState, Publication, PublicationStatus
from wearview.studio.reconcile import work_resume_lost
from wearview.studio.services import job_create, job_transition

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]


@pytest.fixture
def sent(monkeypatch):
    from wearview.celery import app
    from wearview.studio import tasks

    calls: list[tuple[str, list]] = []
    monkeypatch.setattr(
        app, "send_task", lambda name, args=None, **kwargs: calls.append((name, list(args)))
    )
    monkeypatch.setattr(
        tasks.process_synced_products_task,
        "delay",
        lambda *args: calls.append((tasks.process_synced_products_task.name, list(args))),
    )
    return calls


def _shop(**fields) -> Shop:
    return make_shop(installed_at=timezone.now(), **fields)


def _old(product: Product, hours: int = 2) -> None:
    Product.objects.filter(pk=product.pk).update(synced_at=timezone.now() - timedelta(hours=hours))


def test_lost_work_image_without_copy_sent_again(sent):
    shop = _shop()
    product = make_product(shop)
    image = make_image(product, kind=None)
    _old(product)

    counts = work_resume_lost()

    assert counts["image_copies"] == 1
    assert ("integrations.shopify.tasks.copy_images_task", [[image.pk]]) in sent


def test_lost_work_recent_image_left_alone(sent):
    shop = _shop()
    product = make_product(shop)
    make_image(product, kind=None)
    Product.objects.filter(pk=product.pk).update(synced_at=timezone.now())

    assert work_resume_lost() == {"image_copies": 0, "products": 0, "publications": 0}
    assert sent == []


def test_lost_work_unclassified_product_processed_again(sent):
    shop = _shop()
    product = make_product(shop)
    image = make_image(product, kind=None)
    ProductImage.objects.filter(pk=image.pk).update(stored="images/1.png")
    _old(product)

    counts = work_resume_lost()

    assert counts["products"] == 1
    assert sent == [
        ("wearview.studio.tasks.process_synced_products_task", [shop.pk, [product.pk], "reconcile"])
    ]


def test_lost_work_product_without_job_processed_again(sent):
    shop = _shop(auto_generate=True)
    covered = make_product(shop)
    make_variant(covered)
    make_image(covered, kind=ImageKind.PRODUCT_ONLY, stored="images/2.png")
    job, _ = job_create(product=covered, source_image=None, variants=[], preset="restyle")
    needing = make_product(shop)
    make_variant(needing)
    make_image(needing, kind=ImageKind.PRODUCT_ONLY, stored="images/3.png")
    _old(covered)
    _old(needing)

    work_resume_lost()

    assert sent == [
        ("wearview.studio.tasks.process_synced_products_task", [shop.pk, [needing.pk], "reconcile"])
    ]


def test_lost_work_processed_product_left_alone(sent):
    """A product that was processed but got no job (none could be opened for it) is left
    alone until a sync changes it. Otherwise every sweep would process it again."""
    shop = _shop(auto_generate=True)
    needing = make_product(shop)
    make_variant(needing)
    make_image(needing, kind=ImageKind.PRODUCT_ONLY, stored="images/4.png")
    _old(needing)
    Product.objects.filter(pk=needing.pk).update(processed_at=timezone.now())

    assert work_resume_lost()["products"] == 0
    assert sent == []

    # A later sync that stored the product again makes it due once more.
    Product.objects.filter(pk=needing.pk).update(
        processed_at=timezone.now() - timedelta(hours=3),
        synced_at=timezone.now() - timedelta(hours=2),
    )
    assert work_resume_lost()["products"] == 1


def test_lost_work_processing_marks_product_processed(sent):
    from wearview.studio.flow import products_process

    shop = _shop(auto_generate=False)
    product = make_product(shop)
    make_variant(product)
    make_image(product, kind=ImageKind.PRODUCT_ONLY, stored="images/5.png")
    before = timezone.now()

    outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="sync")

    product.refresh_from_db()
    assert outcome["jobs"] == 0
    assert product.processed_at is not None
    assert product.processed_at >= before


def test_lost_work_stalled_publication_sent_again(sent):
    from tests.reliability.test_lost_work_sweep import _publishing

    publication = _publishing(age=timedelta(hours=2))

    counts = work_resume_lost()

    assert counts["publications"] == 1
    assert ("integrations.shopify.tasks.publish_publication_task", [publication.pk]) in sent
    publication.refresh_from_db()
    assert publication.updated_at > timezone.now() - timedelta(minutes=1)
    # The next sweep waits a full limit again.
    assert work_resume_lost()["publications"] == 0


def _publishing(*, age: timedelta) -> Publication:
    from wearview.studio.models import Candidate

    shop = _shop()
    product = make_product(shop)
    _old(product, hours=0)
    job, _ = job_create(product=product, source_image=None, variants=[], preset="restyle")
    for state in ("preparing", "generating", "in_review", "approved", "publishing"):
        job_transition(job_id=job.pk, to_state=state)
    candidate = Candidate.objects.create(
        job=job, image="c.png", seed=1, garment_strength=0.1, background_strength=0.8
    )
    publication = Publication.objects.create(
        candidate=candidate, shop=shop, idempotency_key=f"candidate-{candidate.pk}"
    )
    then = timezone.now() - age
    Publication.objects.filter(pk=publication.pk).update(
        updated_at=then, status=PublicationStatus.STAGED
    )
    GenerationJob.objects.filter(pk=job.pk).update(state_changed_at=then)
    assert GenerationJob.objects.get(pk=job.pk).state == JobState.PUBLISHING
    return Publication.objects.get(pk=publication.pk)


def test_lost_work_stalled_delivery_sent_again(monkeypatch):
    from integrations.shopify import tasks as shopify_tasks
    from integrations.shopify.models import WebhookDelivery, WebhookDeliveryStatus
    from integrations.shopify.services import webhook_deliveries_resume, webhook_delivery_record

    sent: list[int] = []
    monkeypatch.setattr(shopify_tasks.process_webhook_task, "delay", sent.append)
    ids = []
    for number in range(3):
        delivery_id = webhook_delivery_record(
            topic="products/update",
            shop_domain="lost.myshopify.com",
            webhook_id=f"lost-{number}",
            event_id=f"lost-{number}",
            api_version="2026-10",
            triggered_at="",
            payload={"id": number},
        )
        ids.append(delivery_id)
    old = timezone.now() - timedelta(hours=1)
    WebhookDelivery.objects.filter(pk__in=ids[:2]).update(received_at=old)
    WebhookDelivery.objects.filter(pk=ids[1]).update(status=WebhookDeliveryStatus.PROCESSED)

    resent = webhook_deliveries_resume(older_than=timedelta(minutes=15))

    assert resent == 1
    assert sent == [ids[0]]
