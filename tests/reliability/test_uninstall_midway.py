"""Uninstall while a job generates and another publishes: the revoked token is never sent
again, the shop's jobs stop, and every task of the shop that still arrives ends quietly."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from integrations.shopify.services import publication_start
from integrations.shopify.sync import shop_sync_pages
from tests.shopify.conftest import SHOP, install_shop, start_devstore
from tests.shopify.test_publish import approved_candidate
from wearview.catalog.models import Product, Shop
from wearview.studio.models import (
    OPEN_STATES,
    GenerationJob,
    JobState,
    Publication,
    PublicationStatus,
)
from wearview.studio.services import job_create, job_transition

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


@pytest.fixture
def app_store(shopify_settings, live_server, transactional_db, eager_celery, monkeypatch):
    from integrations.shopify import tasks as shopify_tasks
    from wearview.studio import tasks as studio_tasks

    monkeypatch.setattr(studio_tasks.process_synced_products_task, "delay", lambda *a, **k: None)
    monkeypatch.setattr(shopify_tasks.copy_images_task, "delay", lambda *a, **k: None)
    store = start_devstore(shopify_settings, app_url=live_server.url)
    yield store
    store.stop()


class TokenSpy:
    """Record the access token of every Admin API request this process sends."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.lock = threading.Lock()

    def install(self, monkeypatch) -> None:
        original = requests.Session.request

        def request(session, method, url, *args, **kwargs):
            token = (kwargs.get("headers") or {}).get("X-Shopify-Access-Token")
            if token:
                with self.lock:
                    self.tokens.append(token)
            return original(session, method, url, *args, **kwargs)

        monkeypatch.setattr(requests.Session, "request", request)


def test_uninstall_midway_stops_shop(app_store, sample_catalog, monkeypatch, figure):
    from integrations.shopify.tasks import publish_publication_task, sync_shop_task
    from wearview.studio.reconcile import jobs_expire_stuck
    from wearview.studio.tasks import prepare_job_task, record_candidates_task

    shop = install_shop(app_store, catalog=sample_catalog)
    shop_sync_pages(shop=shop, copy_images=False)
    revoked = Shop.objects.get(pk=shop.pk).access_token
    products = list(Product.objects.filter(shop=shop).order_by("pk")[:3])

    generating, _ = job_create(
        product=products[0], source_image=None, variants=[], preset="restyle"
    )
    for state in (JobState.PREPARING, JobState.GENERATING):
        job_transition(job_id=generating.pk, to_state=state)
    queued, _ = job_create(product=products[1], source_image=None, variants=[], preset="restyle")
    # A publish waiting in the queue: its task is sent by hand after the uninstall.
    monkeypatch.setattr(publish_publication_task, "delay", lambda *a, **k: None)
    candidate = approved_candidate(products[2])
    publication = publication_start(candidate_id=candidate.pk)

    spy = TokenSpy()
    spy.install(monkeypatch)
    app_store.uninstall(SHOP)
    assert app_store.wait_idle(15)

    stored = Shop.objects.get(pk=shop.pk)
    assert stored.uninstalled_at is not None
    assert stored.access_token == ""
    assert not GenerationJob.objects.filter(shop=shop, state__in=OPEN_STATES).exists()

    # Work that was in flight or queued when the shop left arrives now.
    late = {
        "publish": lambda: publish_publication_task.apply(args=[publication.pk]).get(),
        "sync": lambda: sync_shop_task.apply(args=[shop.pk]).get(),
        "prepare": lambda: prepare_job_task.apply(args=[queued.pk]).get(),
        "candidates": lambda: record_candidates_task.apply(
            args=[{"job_id": generating.pk, "round": 0, "candidates": []}]
        ).get(),
        "sweep": lambda: jobs_expire_stuck(),
    }
    outcomes = {name: call() for name, call in late.items()}
    body = json.dumps({"id": int(products[0].shopify_id.rsplit("/", 1)[1])}).encode()
    app_store.send_webhook(SHOP, "products/update", body=body)
    assert app_store.wait_idle(15)

    assert revoked not in spy.tokens
    assert spy.tokens == []
    publication.refresh_from_db()
    assert publication.status == PublicationStatus.FAILED
    assert outcomes["sync"] is None
    assert outcomes["prepare"] is False
    assert outcomes["sweep"] == {"restarted": 0, "failed": 0}
    states = dict(GenerationJob.objects.filter(shop=shop).values_list("pk", "state"))
    assert states[generating.pk] == JobState.CANCELLED
    assert states[queued.pk] == JobState.CANCELLED
    assert states[candidate.job_id] == JobState.FAILED
    assert not Publication.objects.filter(shop=shop, status=PublicationStatus.PENDING).exists()
    figure("requests_with_revoked_token", spy.tokens.count(revoked))
