"""Celery tasks of the studio. Each takes ids or a small JSON payload and calls one service."""

import logging

from celery import shared_task
from django.conf import settings

from wearview.studio import flow, generation, reconcile

logger = logging.getLogger(__name__)

GPU_TASK = "wearview.engine.tasks.generate_candidates_task"
DELIVERIES_SWEEP_TASK = "integrations.shopify.tasks.resume_stalled_deliveries_task"


# Image copies usually land within seconds; after this many tries a product whose copy never
# arrived is left for the next sync or reconciliation.
WAIT_FOR_IMAGES_RETRIES = 40


@shared_task(bind=True, name="wearview.studio.tasks.process_synced_products_task")
def process_synced_products_task(self, shop_id: int, product_ids: list[int], cause: str) -> dict:
    """Classify the products' new images, then open or cancel jobs as the catalog now needs."""
    outcome = flow.products_process(shop_id=shop_id, product_ids=product_ids, cause=cause)
    waiting = outcome["waiting"]
    if waiting and self.request.retries < WAIT_FOR_IMAGES_RETRIES:
        # Only the waiting products are processed again.
        raise self.retry(args=[shop_id, waiting, cause], countdown=3, max_retries=None)
    if waiting:
        logger.warning(
            "Shop %s: products %s still have images without a stored copy; left for the next sync",
            shop_id,
            waiting,
        )
    return outcome


@shared_task(name="wearview.studio.tasks.cancel_product_jobs_task")
def cancel_product_jobs_task(shop_id: int, product_ids: list[int], reason: str) -> int:
    """Cancel the jobs of deleted products; nothing is withdrawn from a deleted product."""
    return flow.product_jobs_cancel(
        shop_id=shop_id,
        product_ids=product_ids,
        reason=reason,
        states=flow.CANCELLABLE_ON_DELETE,
    )


@shared_task(name="wearview.studio.tasks.prepare_job_task")
def prepare_job_task(job_id: int) -> bool:
    """Prepare the job's canvas, mask and strength map, then send it to the GPU queue."""
    from wearview.celery import QUEUE_GPU, app

    payload = generation.job_prepare(job_id=job_id)
    if payload is None:
        return False
    app.send_task(
        GPU_TASK,
        args=[payload],
        queue=QUEUE_GPU,
        time_limit=settings.WEARVIEW_GPU_TIME_LIMIT,
    )
    return True


@shared_task(name="wearview.studio.tasks.record_candidates_task")
def record_candidates_task(result: dict) -> int | None:
    job = generation.job_record_candidates(result=result)
    if job is not None:
        flow.job_after_review_ready(job_id=job.pk)
    return job.pk if job else None


@shared_task(name="wearview.studio.tasks.record_progress_task", ignore_result=True)
def record_progress_task(progress: dict) -> None:
    generation.job_record_progress(
        job_id=int(progress["job_id"]),
        round=int(progress["round"]),
        step=int(progress["step"]),
        total=int(progress["total"]),
    )


@shared_task(name="wearview.studio.tasks.record_generation_failure_task")
def record_generation_failure_task(failure: dict) -> None:
    generation.job_record_generation_failure(
        job_id=int(failure["job_id"]),
        round=int(failure["round"]),
        reason=str(failure.get("reason") or "generation failed without a reason"),
    )


@shared_task(name="wearview.studio.tasks.expire_stuck_jobs_task")
def expire_stuck_jobs_task() -> dict[str, int]:
    """Restart stuck jobs, then send again the work whose message was lost."""
    from wearview.celery import app

    # The integration's own records (webhook deliveries) are swept by its task.
    app.send_task(DELIVERIES_SWEEP_TASK)
    return {**reconcile.jobs_expire_stuck(), **reconcile.work_resume_lost()}
