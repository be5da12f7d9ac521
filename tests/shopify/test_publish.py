"""Publishing to and withdrawing from the dev store, with faults and simulated crashes."""

import io
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from integrations.shopify import publish as publish_module
from integrations.shopify.client import ShopifyClient
from integrations.shopify.models import PublicationProgress
from integrations.shopify.publish import publication_publish, publication_withdraw
from integrations.shopify.services import publication_start
from integrations.shopify.sync import shop_sync_pages
from tests.shopify.conftest import SHOP
from wearview.catalog.models import ImageOrigin, Product, ProductImage
from wearview.catalog.selectors import variants_needing_on_model
from wearview.studio.models import Candidate, GenerationJob, JobState, PublicationStatus
from wearview.studio.services import job_create, job_transition


def _short_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.05))


def _png(color=(200, 120, 90), size=(320, 400)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def approved_candidate(product: Product, *, variants=None, image: bytes | None = None) -> Candidate:
    """A job of `product` moved to approved, with one candidate image in storage."""
    variants = list(product.variants.all()) if variants is None else variants
    job, _ = job_create(product=product, source_image=None, variants=variants, preset="restyle")
    for state in ["preparing", "generating", "in_review"]:
        job_transition(job_id=job.pk, to_state=state)
    name = default_storage.save(f"candidates/{job.pk}.png", ContentFile(image or _png()))
    candidate = Candidate.objects.create(
        job=job, image=name, seed=1, garment_strength=0.2, background_strength=0.8, score=0.95
    )
    job_transition(job_id=job.pk, to_state="approved")
    return candidate


def _media_ids(store, product: Product) -> list[int]:
    number = int(product.shopify_id.rsplit("/", 1)[1])
    return list(store.shop(SHOP).products[number].media_ids)


@pytest.fixture
def synced(db, installed_shop, devstore):
    shop_sync_pages(shop=installed_shop)
    return installed_shop


def _second_product(shop) -> Product:
    return Product.objects.filter(shop=shop).order_by("pk")[1]


def test_publish_attaches_once(synced, devstore):
    product = _second_product(synced)
    before = _media_ids(devstore, product)
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)

    publication_publish(publication_id=publication.pk, sleep=_short_sleep)

    publication.refresh_from_db()
    assert publication.status == PublicationStatus.READY
    assert publication.published_at is not None
    after = _media_ids(devstore, product)
    assert len(after) == len(before) + 1
    media = devstore.shop(SHOP).files[after[-1]]
    assert media.alt == synced.disclosure_text
    assert media.status == "READY"
    assert publication.shopify_media_id == f"gid://shopify/MediaImage/{after[-1]}"
    assert GenerationJob.objects.get(pk=candidate.job_id).state == JobState.PUBLISHED
    image = ProductImage.objects.get(shopify_media_id=publication.shopify_media_id)
    assert image.origin == ImageOrigin.WEARVIEW
    assert image.media_status == "READY"
    assert image.url.startswith("http://127.0.0.1")
    # The first variant showed a merchant image: it is detached from that variant (the media
    # stays on the product, as the count above shows) and the new image shows on both.
    number = int(product.shopify_id.rsplit("/", 1)[1])
    first, second = devstore.shop(SHOP).products[number].variants
    assert first.media_ids == [after[-1]]
    assert second.media_ids == [after[-1]]
    progress = PublicationProgress.objects.get(publication=publication)
    assert progress.variant_errors == []
    assert list(progress.replaced_variant_media) == [f"gid://shopify/ProductVariant/{first.id}"]
    assert image.variants.count() == 2
    assert not variants_needing_on_model(shop=synced).filter(product=product).exists()


def test_publish_sets_variant_image(synced, devstore):
    product = _second_product(synced)
    free = list(product.variants.filter(images__isnull=True))
    assert len(free) == 1
    candidate = approved_candidate(product, variants=free)
    publication = publication_start(candidate_id=candidate.pk)
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    publication.refresh_from_db()
    number = int(free[0].shopify_id.rsplit("/", 1)[1])
    variant = next(
        v for p in devstore.shop(SHOP).products.values() for v in p.variants if v.id == number
    )
    media_number = int(publication.shopify_media_id.rsplit("/", 1)[1])
    assert variant.media_ids == [media_number]
    image = ProductImage.objects.get(shopify_media_id=publication.shopify_media_id)
    assert list(image.variants.all()) == free
    assert PublicationProgress.objects.get(publication=publication).variant_errors == []


def test_publish_again_changes_nothing(synced, devstore):
    product = _second_product(synced)
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    count = len(_media_ids(devstore, product))
    assert publication_start(candidate_id=candidate.pk).pk == publication.pk
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    assert len(_media_ids(devstore, product)) == count


class Crash(Exception):
    pass


def _crash(*args, **kwargs):
    raise Crash("worker killed")


@pytest.mark.parametrize("step", ["_attach", "_record_media", "_poll", "_append_to_variants"])
def test_publish_crash_then_retry_one_media(synced, devstore, monkeypatch, step):
    product = _second_product(synced)
    before = len(_media_ids(devstore, product))
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)

    with monkeypatch.context() as patch:
        if step == "_record_media":
            # The attach mutation went through, then the worker died before storing the id.
            patch.setattr(publish_module, step, _crash)
        else:
            patch.setattr(publish_module, step, _crash)
        with pytest.raises(Crash):
            publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    publication.refresh_from_db()
    assert publication.status != PublicationStatus.READY

    publication_publish(publication_id=publication.pk, sleep=_short_sleep)

    publication.refresh_from_db()
    assert publication.status == PublicationStatus.READY
    assert len(_media_ids(devstore, product)) == before + 1
    assert ProductImage.objects.filter(product=product, origin=ImageOrigin.WEARVIEW).count() == 1


def test_publish_crash_between_upload_and_attach(synced, devstore, monkeypatch):
    product = _second_product(synced)
    before = len(_media_ids(devstore, product))
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)
    monkeypatch.setattr(publish_module, "_attach", _crash)
    with pytest.raises(Crash):
        publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.STAGED
    assert publication.staged_resource_url
    assert len(_media_ids(devstore, product)) == before
    monkeypatch.undo()

    publication_publish(publication_id=publication.pk, sleep=_short_sleep)

    assert len(_media_ids(devstore, product)) == before + 1
    assert len(devstore.shop(SHOP).files) == 90 + 1


FAULTS = {
    "throttled": {"throttle_rate": 0.5},
    "http_429": {"http_429_rate": 0.5},
    "server_error": {"server_error_rate": 0.5},
    "timeout": {"timeout_rate": 0.5, "timeout_seconds": 0.6},
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_publish_under_faults_one_media(synced, devstore, shopify_settings, fault):
    shopify_settings.SHOPIFY_HTTP_TIMEOUT = 0.3
    product = _second_product(synced)
    before = len(_media_ids(devstore, product))
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)
    devstore.set_faults(seed=11, **FAULTS[fault])
    client = ShopifyClient(synced, sleep=_short_sleep, max_attempts=12)
    for _ in range(5):
        try:
            publication_publish(publication_id=publication.pk, client=client, sleep=_short_sleep)
            break
        except Exception as exc:  # a task retry, as Celery would do
            assert "outcome unknown" in str(exc) or "attempts" in str(exc)
    devstore.set_faults()
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.READY
    assert len(_media_ids(devstore, product)) == before + 1
    assert client.stats.retries + client.stats.throttled > 0


def test_publish_media_failed_fails_job(synced, devstore):
    product = _second_product(synced)
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)
    devstore.set_faults(media_fail_rate=1.0)
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.FAILED
    job = GenerationJob.objects.get(pk=candidate.job_id)
    assert job.state == JobState.FAILED
    assert job.failure_reason.startswith("Shopify could not process the image: ")
    assert len(job.failure_reason) > len("Shopify could not process the image: ")


def test_publish_retry_after_media_failure(synced, devstore):
    product = _second_product(synced)
    before = len(_media_ids(devstore, product))
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)
    devstore.set_faults(media_fail_rate=1.0)
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    devstore.set_faults()
    # A retry as the review queue does it: job back to publishing, publication pending.
    job_transition(job_id=candidate.job_id, to_state="approved")
    job_transition(job_id=candidate.job_id, to_state="publishing")
    type(publication).objects.filter(pk=publication.pk).update(status=PublicationStatus.PENDING)

    publication_publish(publication_id=publication.pk, sleep=_short_sleep)

    publication.refresh_from_db()
    assert publication.status == PublicationStatus.READY
    media = [devstore.shop(SHOP).files[m] for m in _media_ids(devstore, product)]
    # The failed media stays on the product (a failed file cannot be updated; see _restart).
    assert len(media) == before + 2
    assert sorted(m.status for m in media[before:]) == ["FAILED", "READY"]
    assert ProductImage.objects.filter(product=product, origin=ImageOrigin.WEARVIEW).count() == 1
    assert GenerationJob.objects.get(pk=candidate.job_id).state == JobState.PUBLISHED


def test_publish_refused_file_fails_job(synced, devstore):
    product = _second_product(synced)
    # 4,600 px on one side: over Shopify's limit of 4,472 px.
    candidate = approved_candidate(product, image=_png(size=(4600, 10)))
    publication = publication_start(candidate_id=candidate.pk)
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.FAILED
    assert GenerationJob.objects.get(pk=candidate.job_id).state == JobState.FAILED


def test_withdraw_keeps_merchant_images(synced, devstore):
    product = _second_product(synced)
    before = _media_ids(devstore, product)
    candidate = approved_candidate(product)
    publication = publication_start(candidate_id=candidate.pk)
    publication_publish(publication_id=publication.pk, sleep=_short_sleep)

    publication.refresh_from_db()
    number = int(product.shopify_id.rsplit("/", 1)[1])
    variants_before = {
        v.id: list(v.media_ids) for v in devstore.shop(SHOP).products[number].variants
    }

    publication_withdraw(publication_id=publication.pk)

    assert _media_ids(devstore, product) == before
    variants_after = {v.id: v.media_ids for v in devstore.shop(SHOP).products[number].variants}
    media_number = int(publication.shopify_media_id.rsplit("/", 1)[1])
    assert all(media_number in ids for ids in variants_before.values())
    # The variant that showed a merchant image shows it again; the other shows nothing.
    assert sorted(map(len, variants_after.values())) == [0, 1]
    assert all(media_number not in ids for ids in variants_after.values())
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.WITHDRAWN
    assert GenerationJob.objects.get(pk=candidate.job_id).state == JobState.WITHDRAWN
    assert not ProductImage.objects.filter(shopify_media_id=publication.shopify_media_id).exists()
    assert ProductImage.objects.filter(product=product, origin=ImageOrigin.MERCHANT).count() == 3
    # Again: nothing to do, no error.
    publication_withdraw(publication_id=publication.pk)
