"""The webhook-driven flow, run against the demo's dev store and worker processes.

A merchant creates a product, adds an on-model photo to a product whose job is waiting, and
deletes a product, all in the dev store. The dev store sends signed webhooks to the web
server, and the workers must react without anyone involved: a new product gets a job in the
review queue, a product that gained an on-model photo has its job cancelled, and a deleted
product's job is cancelled. Before that, the webhooks caused by the demo's own publishing
must have started no work.
"""

import time
from dataclasses import dataclass, field

from django.conf import settings

SAMPLES = settings.BASE_DIR / "samples" / "images"
PACKSHOTS = ("gingham-button-shirt-1.jpg", "olive-bomber-jacket-1.jpg")
ON_MODEL_PHOTO = "raglan-heather-tee-2.jpg"


class FlowFailed(RuntimeError):
    pass


@dataclass
class FlowReport:
    own_publish_new_jobs: int = 0
    created_job_state: str = ""
    on_model_update_job_state: str = ""
    deleted_job_state: str = ""
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "own_publish_new_jobs": self.own_publish_new_jobs,
            "created_job_state": self.created_job_state,
            "on_model_update_job_state": self.on_model_update_job_state,
            "deleted_job_state": self.deleted_job_state,
        }


def _wait_for(condition, *, timeout: float, what: str, check_alive):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_alive()
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise FlowFailed(f"{what} did not happen within {timeout:.0f} s")


def _job_of(shop, handle: str):
    from wearview.studio.models import GenerationJob

    return GenerationJob.objects.filter(shop=shop, product__handle=handle).order_by("-pk").first()


def _deliveries_settled() -> bool:
    from integrations.shopify.models import WebhookDelivery, WebhookDeliveryStatus

    return not WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.RECEIVED).exists()


def run_webhook_flow(*, store, domain: str, shop, say, check_alive, timeout: float) -> FlowReport:
    """Drive the merchant's changes on the dev store and wait for the app's reactions."""
    from wearview.studio.models import GenerationJob, JobState, Publication

    report = FlowReport()

    # 1. The webhooks that publishing caused have been handled and opened no job.
    jobs_before = GenerationJob.objects.filter(shop=shop).count()
    store.wait_idle(timeout=15)
    _wait_for(
        _deliveries_settled, timeout=timeout, what="webhook processing", check_alive=check_alive
    )
    report.own_publish_new_jobs = GenerationJob.objects.filter(shop=shop).count() - jobs_before
    if report.own_publish_new_jobs:
        report.problems.append(
            f"WearView's own publishing started {report.own_publish_new_jobs} new jobs"
        )
    say(f"Own publish webhooks handled: {report.own_publish_new_jobs} new jobs")

    # 2. products/create for a product with only a packshot: a job reaches review.
    created = store.merchant_create_product(
        domain,
        "Webhook Gingham Shirt",
        handle="webhook-gingham-shirt",
        product_type="Shirts",
        variants=[{"sku": "WH-GINGHAM-M", "price": "48.00", "options": ["M"]}],
        images=[SAMPLES / PACKSHOTS[0]],
    )
    job = _wait_for(
        lambda: (j := _job_of(shop, created.handle)) and j.state == JobState.IN_REVIEW and j,
        timeout=timeout,
        what="a job in review for the created product",
        check_alive=check_alive,
    )
    report.created_job_state = job.state
    say(f"products/create: job {job.pk} reached {job.state}")

    # 3. products/update adding an on-model photo cancels that product's pending job.
    store.merchant_add_image(
        domain, created.id, SAMPLES / ON_MODEL_PHOTO, alt="Model wears the gingham shirt"
    )
    job = _wait_for(
        lambda: (j := _job_of(shop, created.handle)) and j.state == JobState.CANCELLED and j,
        timeout=timeout,
        what="cancelling the job of the product that gained an on-model photo",
        check_alive=check_alive,
    )
    report.on_model_update_job_state = job.state
    say(f"products/update with an on-model photo: job {job.pk} {job.state}")

    # 4. products/delete cancels the product's job and withdraws nothing.
    doomed = store.merchant_create_product(
        domain,
        "Webhook Bomber Jacket",
        handle="webhook-bomber-jacket",
        product_type="Jackets",
        variants=[{"sku": "WH-BOMBER-M", "price": "98.00", "options": ["M"]}],
        images=[SAMPLES / PACKSHOTS[1]],
    )
    _wait_for(
        lambda: _job_of(shop, doomed.handle),
        timeout=timeout,
        what="a job for the product about to be deleted",
        check_alive=check_alive,
    )
    store.merchant_delete_product(domain, doomed.id)
    job = _wait_for(
        lambda: (j := _job_of(shop, doomed.handle)) and j.state == JobState.CANCELLED and j,
        timeout=timeout,
        what="cancelling the deleted product's job",
        check_alive=check_alive,
    )
    report.deleted_job_state = job.state
    if Publication.objects.filter(candidate__job=job).exists():
        report.problems.append("the deleted product's job published an image")
    say(f"products/delete: job {job.pk} {job.state}")
    return report
