"""How the studio reacts to catalog changes: classify, then open or cancel jobs.

Synced products (from a full sync, a webhook or WearView's own publish) have their new images
classified. For a shop with auto-generate on, products that now need on-model photos get a job;
open jobs of products that no longer need one are cancelled. Publishing never opens a job.
"""

import logging

from django.db import transaction
from django.utils import timezone

from wearview.catalog.classification import images_classify
from wearview.catalog.models import Product, ProductImage, PublishMode, Shop
from wearview.catalog.selectors import variants_needing_on_model
from wearview.studio.errors import IllegalTransition, JobStateConflict
from wearview.studio.models import GenerationJob, JobState
from wearview.studio.services import job_transition

logger = logging.getLogger(__name__)

# When a product gains on-model photos, a job that started generating is left to finish and
# its result waits in review. A deleted product stops every job that is not publishing.
CANCELLABLE_STATES = (JobState.QUEUED, JobState.IN_REVIEW, JobState.APPROVED)
CANCELLABLE_ON_DELETE = CANCELLABLE_STATES + (JobState.PREPARING, JobState.GENERATING)


def products_process(*, shop_id: int, product_ids: list[int], cause: str) -> dict:
    """Classify the products' images and open or cancel jobs; returns counts for the log.

    The integration copies images to storage in a task of its own, which can finish after
    this one starts. A product whose images are not all stored yet is left out and listed
    under "waiting", so the caller can run this again for those products; deciding on a
    partly stored product could open a job that an on-model photo, not yet classified, makes
    unnecessary.
    """
    from wearview.studio.generation import jobs_create_for_shop
    from wearview.studio.tasks import prepare_job_task

    shop = Shop.objects.get(pk=shop_id)
    if not shop.is_installed:
        logger.info("Shop %s is not installed; synced products ignored", shop.domain)
        return {"classified": 0, "jobs": 0, "cancelled": 0, "waiting": []}

    images = ProductImage.objects.filter(product_id__in=product_ids)
    waiting = sorted(
        set(images.filter(stored="", error_code="").values_list("product_id", flat=True))
    )
    ready = [pk for pk in product_ids if pk not in set(waiting)]
    image_ids = list(images.filter(product_id__in=ready).values_list("pk", flat=True))
    report = images_classify(image_ids=image_ids)

    still_needing = set(
        variants_needing_on_model(shop=shop)
        .filter(product_id__in=ready)
        .values_list("product_id", flat=True)
    )
    covered = [pk for pk in ready if pk not in still_needing]
    cancelled = product_jobs_cancel(
        shop_id=shop.pk, product_ids=covered, reason="the product has on-model photos now"
    )

    jobs = []
    if shop.auto_generate and cause != "publish":
        # Auto-generate is for products WearView has not worked on yet. A product with any
        # job in its history is left to the merchant, so the webhook that WearView's own
        # publish causes (the product still lacks photos for its other colours) opens nothing.
        untouched = sorted(
            set(still_needing)
            - set(
                GenerationJob.objects.filter(product_id__in=still_needing).values_list(
                    "product_id", flat=True
                )
            )
        )
        jobs = jobs_create_for_shop(
            shop=shop, product_ids=untouched, requested_by=f"auto ({cause})"
        )
        for job in jobs:
            transaction.on_commit(lambda job_id=job.pk: prepare_job_task.delay(job_id))
    # Marks the decision taken, so the sweep does not send these products again until a sync
    # changes them, even when no job could be opened for them.
    Product.objects.filter(pk__in=ready).update(processed_at=timezone.now())
    logger.info(
        "Shop %s: %s products processed after %s: %s images classified, %s failed, "
        "%s jobs opened, %s cancelled, %s products waiting for image copies",
        shop.domain,
        len(ready),
        cause,
        report.classified,
        len(report.failed),
        len(jobs),
        cancelled,
        len(waiting),
    )
    return {
        "classified": report.classified,
        "jobs": len(jobs),
        "cancelled": cancelled,
        "waiting": waiting,
    }


def product_jobs_cancel(
    *,
    shop_id: int,
    product_ids: list[int],
    reason: str,
    states: tuple[str, ...] = CANCELLABLE_STATES,
) -> int:
    """Cancel the products' jobs that are in one of `states`; returns how many."""
    cancelled = 0
    jobs = GenerationJob.objects.filter(
        shop_id=shop_id, product_id__in=product_ids, state__in=states
    ).values_list("pk", "state")
    for job_id, state in jobs:
        try:
            # Checked against every cancellable state under the row lock, not only the state
            # read above: a job that a worker moved on meanwhile (preparing to generating, say)
            # is still cancelled when its new state allows it.
            job_transition(
                job_id=job_id,
                to_state=JobState.CANCELLED,
                reason=reason,
                actor="system",
                from_states=states,
            )
            cancelled += 1
        except (IllegalTransition, JobStateConflict) as exc:
            # The job left the cancellable states meanwhile; its new state decides what happens.
            logger.info("Job %s was %s and could not be cancelled: %s", job_id, state, exc)
    return cancelled


def job_after_review_ready(*, job_id: int) -> None:
    """Approve and publish the best passing candidate when the shop publishes automatically."""
    from wearview.studio.review import candidate_approve, job_publish

    job = GenerationJob.objects.select_related("shop").get(pk=job_id)
    shop = job.shop
    if job.state != JobState.IN_REVIEW or shop.publish_mode != PublishMode.AUTO:
        return
    best = (
        job.candidates.filter(round=job.round, passed=True, score__gte=shop.auto_publish_min_score)
        .order_by("-score", "rank")
        .first()
    )
    if best is None:
        logger.info(
            "Job %s of shop %s: no candidate passed with score >= %.2f; left for review",
            job.pk,
            shop.domain,
            shop.auto_publish_min_score,
        )
        return
    candidate_approve(candidate_id=best.pk, actor="auto-publish")
    job_publish(job_id=job.pk, actor="auto-publish")
