"""Celery tasks of the Shopify integration. Each one loads ids, calls one service function
and records the outcome; a shop whose token is gone ends the task without a retry."""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings

from integrations.shopify import publish, services, sync
from integrations.shopify.errors import ShopNotConnected
from integrations.shopify.models import SyncMode, SyncRun, SyncStatus
from wearview.catalog.models import ProductImage, Shop
from wearview.errors import PermanentError, TransientError
from wearview.studio.models import JobState, Publication, PublicationStatus
from wearview.studio.services import job_transition

logger = logging.getLogger(__name__)

# How often a task waiting for a bulk operation checks it, when no webhook arrives first.
BULK_POLL_SECONDS = 30


@shared_task(name="integrations.shopify.tasks.sync_shop_task")
def sync_shop_task(shop_id: int, mode: str = SyncMode.PAGES) -> int | None:
    """Run a full sync of the shop; returns the SyncRun id."""
    shop = Shop.objects.filter(pk=shop_id).first()
    if shop is None or not shop.is_installed:
        logger.info("Sync of shop %s skipped: not installed", shop_id)
        return None
    try:
        if mode == SyncMode.BULK:
            run = sync.shop_sync_bulk_start(shop=shop)
            finish_bulk_sync_task.apply_async((run.pk,), countdown=BULK_POLL_SECONDS)
        else:
            run = sync.shop_sync_pages(shop=shop)
    except ShopNotConnected as exc:
        logger.warning("Sync of shop %s stopped: %s", shop.domain, exc)
        _fail_running(shop, str(exc))
        return None
    except PermanentError as exc:
        _fail_running(shop, str(exc))
        raise
    return run.pk


def _fail_running(shop: Shop, reason: str) -> None:
    for run_id in SyncRun.objects.filter(shop=shop, status=SyncStatus.RUNNING).values_list(
        "pk", flat=True
    ):
        sync.sync_run_fail(run_id=run_id, reason=reason)


@shared_task(bind=True, name="integrations.shopify.tasks.finish_bulk_sync_task", max_retries=240)
def finish_bulk_sync_task(self, run_id: int) -> str:
    """Store a bulk sync's result once the operation completed; checks again while it runs."""
    try:
        run = sync.shop_sync_bulk_finish(run_id=run_id)
    except ShopNotConnected as exc:
        sync.sync_run_fail(run_id=run_id, reason=str(exc))
        return SyncStatus.FAILED
    if run.status == SyncStatus.RUNNING:
        raise self.retry(countdown=BULK_POLL_SECONDS)
    return run.status


# Nothing reads the result, and the Redis result backend would otherwise subscribe to a reply
# channel for every webhook the endpoint enqueues.
@shared_task(name="integrations.shopify.tasks.process_webhook_task", ignore_result=True)
def process_webhook_task(delivery_id: int) -> str:
    """Do the work of a recorded webhook delivery."""
    return services.webhook_delivery_process(delivery_id=delivery_id)


@shared_task(name="integrations.shopify.tasks.resume_stalled_deliveries_task")
def resume_stalled_deliveries_task() -> int:
    """Send again the deliveries that lost their task; run by the reconciliation sweep."""
    return services.webhook_deliveries_resume(
        older_than=timedelta(seconds=settings.WEARVIEW_QUEUED_LIMIT)
    )


@shared_task(name="integrations.shopify.tasks.copy_images_task")
def copy_images_task(image_ids: list[int]) -> int:
    """Copy product images to storage; returns how many were downloaded."""
    downloaded = 0
    for image_id in image_ids:
        try:
            downloaded += sync.image_copy(image_id=image_id)
        except (OSError, ValueError) as exc:
            # One unreadable image must not stop the others. With the error code set, the
            # studio stops waiting for this copy. A later sync with a new url tries again.
            logger.warning("Image %s not copied: %s", image_id, exc)
            ProductImage.objects.filter(pk=image_id, stored="").update(
                error_code=sync.COPY_FAILED, error_message=f"Copy to storage failed: {exc}"[:2000]
            )
    return downloaded


@shared_task(bind=True, name="integrations.shopify.tasks.publish_publication_task")
def publish_publication_task(self, publication_id: int) -> str:
    """Publish an approved image; safe to run again after a crash at any step."""
    try:
        publication = publish.publication_publish(publication_id=publication_id)
    except ShopNotConnected as exc:
        _fail_publication(publication_id, str(exc))
        return PublicationStatus.FAILED
    except TransientError as exc:
        if self.request.retries >= self.max_retries:
            # The last retry: a job left in publishing would wait forever.
            _fail_publication(publication_id, f"{exc} (gave up after {self.max_retries} retries)")
            return PublicationStatus.FAILED
        raise
    except PermanentError as exc:
        _fail_publication(publication_id, str(exc))
        return PublicationStatus.FAILED
    return publication.status


def _fail_publication(publication_id: int, reason: str) -> None:
    publication = Publication.objects.select_related("candidate").get(pk=publication_id)
    if publication.status in (PublicationStatus.READY, PublicationStatus.WITHDRAWN):
        return
    Publication.objects.filter(pk=publication_id).update(
        status=PublicationStatus.FAILED, error_message=reason[:2000]
    )
    job = publication.candidate.job
    if job.state == JobState.PUBLISHING:
        job_transition(
            job_id=job.pk,
            to_state=JobState.FAILED,
            reason=reason,
            actor="publish",
            from_states=[JobState.PUBLISHING],
        )
    logger.warning("Publication %s failed: %s", publication_id, reason)


@shared_task(name="integrations.shopify.tasks.withdraw_publication_task")
def withdraw_publication_task(publication_id: int) -> str:
    """Remove a published image from its product."""
    try:
        return publish.publication_withdraw(publication_id=publication_id).status
    except ShopNotConnected as exc:
        logger.warning("Withdrawal of publication %s stopped: %s", publication_id, exc)
        return "not_connected"


@shared_task(name="integrations.shopify.tasks.resync_shops_task")
def resync_shops_task() -> int:
    """Resume stalled syncs, then start a full sync of every installed shop not synced
    within WEARVIEW_RESYNC_INTERVAL.

    Webhooks can be lost (Shopify gives up after repeated failures, a deploy drops some), so a
    periodic full sync catches what they missed. Returns the number of syncs started.
    """
    from django.db.models import Q
    from django.utils import timezone

    stalled = sync.sync_runs_resume_stalled()
    if stalled["resumed"] or stalled["failed"]:
        logger.warning(
            "Stalled syncs: %s resumed, %s failed", stalled["resumed"], stalled["failed"]
        )
    cutoff = timezone.now() - timedelta(seconds=settings.WEARVIEW_RESYNC_INTERVAL)
    due = Shop.objects.filter(installed_at__isnull=False, uninstalled_at__isnull=True).filter(
        Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=cutoff)
    )
    started = 0
    for shop in due.only("pk", "domain"):
        if SyncRun.objects.filter(shop=shop, status=SyncStatus.RUNNING).exists():
            continue
        sync_shop_task.delay(shop.pk)
        started += 1
        logger.info("Shop %s: periodic full sync started", shop.domain)
    return started
