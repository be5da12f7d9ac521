"""The dev store throttles 30 % of calls, returns 5xx to 10 % and times out 5 % while the app
syncs and publishes: the final state is right, nothing is duplicated, and every retry is
logged with the shop and, for publishing, the job."""

from __future__ import annotations

import logging

import pytest

from integrations.shopify.services import publication_start
from integrations.shopify.tasks import sync_shop_task
from tests.shopify.conftest import SHOP, install_shop, start_devstore
from tests.shopify.test_publish import approved_candidate
from wearview.catalog.models import Product
from wearview.studio.models import GenerationJob, JobState, Publication, PublicationStatus

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

FAULTS = {"throttle_rate": 0.30, "server_error_rate": 0.10, "timeout_rate": 0.05}


@pytest.fixture
def faulty_store(shopify_settings, transactional_db, eager_celery, monkeypatch):
    from integrations.shopify import client as client_module
    from integrations.shopify import tasks as shopify_tasks
    from wearview.studio import tasks as studio_tasks

    monkeypatch.setattr(studio_tasks.process_synced_products_task, "delay", lambda *a, **k: None)
    monkeypatch.setattr(shopify_tasks.copy_images_task, "delay", lambda *a, **k: None)
    # Waits are real but short, so that the scenario stays bounded in time.
    monkeypatch.setattr(client_module, "BACKOFF_BASE_SECONDS", 0.02)
    monkeypatch.setattr(client_module, "BACKOFF_MAX_SECONDS", 0.2)
    shopify_settings.SHOPIFY_HTTP_TIMEOUT = 0.5
    store = start_devstore(shopify_settings)
    yield store
    store.set_faults()
    store.stop()


def _retry_lines(caplog) -> list[logging.LogRecord]:
    words = ("retrying", "THROTTLED", "will be retried", "not retried blindly", "failed after")
    return [r for r in caplog.records if any(w in r.getMessage() for w in words)]


def test_sync_under_faults_final_state_right(faulty_store, sizes, tmp_path, caplog, figure):
    from integrations.shopify.devstore import write_sample_catalog

    csv_path = write_sample_catalog(
        tmp_path, products=sizes.fault_products, variants_per_product=2, images_per_product=0
    )
    shop = install_shop(faulty_store, catalog=(csv_path, tmp_path / "images"))
    faulty_store.set_faults(seed=30, timeout_seconds=0.8, **FAULTS)

    with caplog.at_level(logging.INFO):
        run_id = sync_shop_task.delay(shop.pk).get()

    faulty_store.set_faults()
    assert run_id is not None
    stored = dict(
        Product.objects.filter(shop=shop, deleted_at__isnull=True).values_list(
            "shopify_id", "title"
        )
    )
    expected = {p.gid: p.title for p in faulty_store.shop(SHOP).products.values()}
    assert stored == expected
    retries = _retry_lines(caplog)
    assert retries, "faults were injected but no retry was logged"
    assert all(shop.domain in r.getMessage() for r in retries)
    figure("sync_products_under_faults", len(stored))
    figure("sync_retries_logged", len(retries))


def test_publish_under_faults_one_media_each(faulty_store, sizes, sample_catalog, caplog, figure):
    from integrations.shopify.sync import shop_sync_pages

    shop = install_shop(faulty_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop, copy_images=False)
    products = list(Product.objects.filter(shop=shop).order_by("pk")[: sizes.fault_publications])
    store_shop = faulty_store.shop(SHOP)
    before = {
        p.pk: len(store_shop.products[int(p.shopify_id.rsplit("/", 1)[1])].media_ids)
        for p in products
    }
    candidates = [approved_candidate(product) for product in products]
    faulty_store.set_faults(seed=31, timeout_seconds=0.8, **FAULTS)

    with caplog.at_level(logging.INFO):
        for candidate in candidates:
            publication_start(candidate_id=candidate.pk)
        assert faulty_store.wait_idle(30)

    faulty_store.set_faults()
    publications = Publication.objects.filter(candidate__in=candidates)
    assert sorted(publications.values_list("status", flat=True)) == [PublicationStatus.READY] * len(
        candidates
    )
    for product in products:
        number = int(product.shopify_id.rsplit("/", 1)[1])
        assert len(store_shop.products[number].media_ids) == before[product.pk] + 1, product.pk
    jobs = GenerationJob.objects.filter(pk__in=[c.job_id for c in candidates])
    assert set(jobs.values_list("state", flat=True)) == {JobState.PUBLISHED}
    retries = _retry_lines(caplog)
    assert retries, "faults were injected but no retry was logged"
    for record in retries:
        text = record.getMessage()
        assert shop.domain in text, text
        assert any(f"job {c.job_id}" in text for c in candidates), text
    figure("publications_under_faults", len(candidates))
    figure("publish_retries_logged", len(retries))
