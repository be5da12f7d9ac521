"""Periodic repair of jobs that a lost message or a killed worker left behind.

Tasks acknowledge their message only when they finish, so a killed worker normally gets its
job redelivered. Some brokers lose unacknowledged messages when the consumer dies (kombu's
SQLAlchemy transport keeps them in the worker's memory), and a redelivered message can wait
behind a long queue. This sweep is the backstop: a job that sat in a working state longer than
that state's limit is started again, up to `MAX_ATTEMPTS` times, then failed with the reason.
A generating job's limit counts from its last progress report.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from wearview.studio.errors import IllegalTransition, JobStateConflict
from wearview.studio.models import GenerationJob, JobState
from wearview.studio.services import job_transition

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


def state_time_limits() -> dict[str, timedelta]:
    """Return how long a job may stay in each working state before the sweep acts."""
    return {
        JobState.QUEUED: timedelta(seconds=settings.WEARVIEW_QUEUED_LIMIT),
        JobState.PREPARING: timedelta(seconds=settings.WEARVIEW_PREPARING_LIMIT),
        JobState.GENERATING: timedelta(seconds=settings.WEARVIEW_GENERATING_LIMIT),
    }


def jobs_expire_stuck(*, now=None) -> dict[str, int]:
    """Restart or fail jobs stuck in queued, preparing or generating; returns counts."""
    from wearview.studio.tasks import prepare_job_task

    now = now or timezone.now()
    restarted = failed = 0
    for state, limit in state_time_limits().items():
        if state == JobState.GENERATING:
            # The GPU worker's progress reports refresh updated_at. A batch that a broker
            # redelivered after a worker was killed reports progress again, so it is left to
            # finish instead of being restarted beside it.
            stuck = GenerationJob.objects.filter(state=state, updated_at__lt=now - limit)
        else:
            stuck = GenerationJob.objects.filter(state=state, state_changed_at__lt=now - limit)
        for job in stuck.select_related("shop"):
            try:
                if job.attempts >= MAX_ATTEMPTS:
                    job_transition(
                        job_id=job.pk,
                        to_state=JobState.FAILED,
                        actor="reconcile",
                        reason=(
                            f"Stuck in {state} for more than {int(limit.total_seconds())} s "
                            f"after {job.attempts} attempts; check the workers' logs for job "
                            f"{job.pk}, then retry it from the review queue."
                        ),
                        from_states=[state],
                    )
                    failed += 1
                    continue
                with transaction.atomic():
                    if state != JobState.QUEUED:
                        job_transition(
                            job_id=job.pk,
                            to_state=JobState.QUEUED,
                            actor="reconcile",
                            reason=f"restarted after {int(limit.total_seconds())} s in {state}",
                            from_states=[state],
                        )
                    else:
                        # Touch the row so the next sweep waits a full limit again.
                        GenerationJob.objects.filter(pk=job.pk).update(state_changed_at=now)
                    transaction.on_commit(lambda job_id=job.pk: prepare_job_task.delay(job_id))
                restarted += 1
            except (IllegalTransition, JobStateConflict):
                # The job moved on its own between the query and the lock.
                continue
            logger.warning(
                "Job %s of shop %s was stuck in %s; restarted (attempt %s of %s)",
                job.pk,
                job.shop.domain,
                state,
                job.attempts + 1,
                MAX_ATTEMPTS,
            )
    return {"restarted": restarted, "failed": failed}


# Work recorded in the database whose Celery message was lost. The embedded broker (kombu's
# SQLAlchemy transport) drops a message its worker had taken when that worker is killed, and
# a Redis broker restarted without persistence drops every queued one. The rows below record
# what was still to do, so the sweep sends the task again. Each task is safe to run twice.

PUBLISH_TASK = "integrations.shopify.tasks.publish_publication_task"
COPY_IMAGES_TASK = "integrations.shopify.tasks.copy_images_task"
# At most this many products per shop and sweep, so one sweep stays short on a large catalog.
RESUME_BATCH = 500


def publishing_limit() -> timedelta:
    """Return how long a publish may go without progress before its task is sent again."""
    return timedelta(seconds=settings.WEARVIEW_PUBLISHING_LIMIT)


def work_resume_lost(*, now=None) -> dict[str, int]:
    """Send again the tasks of image copies, product processing and publishes that stalled.

    A stalled item is one older than its limit that nothing moved on: an image without a stored
    copy or error, a stored image never classified, a product that needs on-model photos in an
    auto-generate shop and never got a job because its processing was lost (not one that was
    processed and had no job opened), a publication of a publishing job that made no progress.
    Returns how many of each were sent again.
    """
    from wearview.catalog.models import ImageKind, ImageOrigin, ProductImage, Shop
    from wearview.catalog.selectors import products_needing_on_model
    from wearview.celery import app
    from wearview.studio.models import Publication, PublicationStatus
    from wearview.studio.tasks import process_synced_products_task

    now = now or timezone.now()
    waiting_since = now - timedelta(seconds=settings.WEARVIEW_QUEUED_LIMIT)
    counts = {"image_copies": 0, "products": 0, "publications": 0}
    shops = Shop.objects.filter(installed_at__isnull=False, uninstalled_at__isnull=True)
    for shop in shops:
        stale = ProductImage.objects.filter(
            shop=shop,
            product__deleted_at__isnull=True,
            product__synced_at__lt=waiting_since,
            error_code="",
        )
        uncopied = list(stale.filter(stored="").values_list("pk", flat=True)[:RESUME_BATCH])
        if uncopied:
            app.send_task(COPY_IMAGES_TASK, args=[uncopied])
            counts["image_copies"] += len(uncopied)
        product_ids = set(
            stale.exclude(stored="")
            .filter(classification__isnull=True)
            .values_list("product_id", flat=True)[:RESUME_BATCH]
        )
        if shop.auto_generate:
            product_ids |= set(
                products_needing_on_model(shop=shop)
                .filter(
                    Q(processed_at__isnull=True) | Q(processed_at__lt=F("synced_at")),
                    synced_at__lt=waiting_since,
                    jobs__isnull=True,
                    images__origin=ImageOrigin.MERCHANT,
                    images__classification__effective_kind=ImageKind.PRODUCT_ONLY,
                )
                .exclude(images__stored="")
                .values_list("pk", flat=True)
                .distinct()[:RESUME_BATCH]
            )
        if product_ids:
            ids = sorted(product_ids)
            process_synced_products_task.delay(shop.pk, ids, "reconcile")
            counts["products"] += len(ids)
            logger.warning(
                "Shop %s: products %s were synced but never processed; processing them again",
                shop.domain,
                ids,
            )

    cutoff = now - publishing_limit()
    stalled = Publication.objects.filter(
        status__in=[
            PublicationStatus.PENDING,
            PublicationStatus.STAGED,
            PublicationStatus.ATTACHED,
        ],
        updated_at__lt=cutoff,
        candidate__job__state=JobState.PUBLISHING,
        candidate__job__state_changed_at__lt=cutoff,
        shop__uninstalled_at__isnull=True,
    ).select_related("shop", "candidate")
    for publication in stalled[:RESUME_BATCH]:
        # Touch the row so the next sweep waits a full limit again.
        Publication.objects.filter(pk=publication.pk).update(updated_at=now)
        app.send_task(PUBLISH_TASK, args=[publication.pk])
        counts["publications"] += 1
        logger.warning(
            "Job %s of shop %s: publication %s made no progress since %s; publishing again",
            publication.candidate.job_id,
            publication.shop.domain,
            publication.pk,
            publication.updated_at.isoformat(),
        )
    return counts
