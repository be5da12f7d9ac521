"""A job goes from queued to review through the real imaging functions and tiny engine."""

import io

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from tests.factories import make_image, make_product, make_shop, make_variant
from tests.imaging.garments import render
from wearview.catalog.models import ImageKind
from wearview.studio.generation import (
    job_prepare,
    job_record_candidates,
    job_record_generation_failure,
    jobs_create_for_shop,
)
from wearview.studio.models import Candidate, GenerationJob, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_canvas(settings, tmp_path):
    settings.WEARVIEW_CANVAS_WIDTH = 256
    settings.WEARVIEW_CANVAS_HEIGHT = 320
    settings.WEARVIEW_DEFAULT_STEPS = 6
    settings.WEARVIEW_DEFAULT_SEEDS = [3]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def _jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _product_with_photo(**product_fields):
    shop = make_shop()
    product = make_product(shop, title="Striped tee", product_type="T-Shirts", **product_fields)
    make_variant(product, selected_options=[{"name": "Color", "value": "Navy"}])
    image = make_image(product, kind=ImageKind.PRODUCT_ONLY)
    garment = render("tshirt", "stripes", width=400, height=500, seed=4)
    image.stored.save("tee.jpg", ContentFile(_jpeg(garment.rgb)))
    return shop, product


class Outbox:
    """Collects the tasks the GPU worker would send, in place of a broker."""

    def __init__(self):
        self.sent = []

    def __call__(self, name, args=None, kwargs=None, **options):
        self.sent.append((name, args))

    def named(self, suffix):
        return [args[0] for name, args in self.sent if name.endswith(suffix)]


def _generate(payload):
    from wearview.engine.jobs import run_generation

    outbox = Outbox()
    run_generation([payload], send_task=outbox)
    return outbox


def test_flow_job_reaches_review_with_candidates():
    shop, product = _product_with_photo()

    jobs = jobs_create_for_shop(shop=shop)
    assert [job.product_id for job in jobs] == [product.pk]
    payload = job_prepare(job_id=jobs[0].pk)
    assert payload is not None
    assert GenerationJob.objects.get(pk=jobs[0].pk).state == JobState.GENERATING
    assert "Navy Striped tee" in payload["prompt"]

    outbox = _generate(payload)
    results = outbox.named("record_candidates_task")
    assert len(results) == 1
    job = job_record_candidates(result=results[0])

    assert job.state == JobState.IN_REVIEW
    candidates = Candidate.objects.filter(job=job)
    assert candidates.count() == len(results[0]["candidates"]) >= 1
    best = candidates.order_by("rank").first()
    assert best.thumbnail.name.endswith(".thumb.jpg")
    assert {"ssim", "ciede2000_mean", "ciede2000_p95", "seam"} <= set(best.scores)
    # The garment's own pixels are pasted back, so the best candidate keeps it exactly.
    assert best.passed, best.failure_reason


def test_flow_candidates_recorded_once():
    shop, _ = _product_with_photo()
    job = jobs_create_for_shop(shop=shop)[0]
    result = _generate(job_prepare(job_id=job.pk)).named("record_candidates_task")[0]

    job_record_candidates(result=result)
    job_record_candidates(result=result)

    assert Candidate.objects.filter(job=job).count() == len(result["candidates"])
    transitions = job.transitions.filter(to_state=JobState.IN_REVIEW)
    assert transitions.count() == 1


def test_flow_prepare_twice_is_harmless():
    shop, _ = _product_with_photo()
    job = jobs_create_for_shop(shop=shop)[0]

    first = job_prepare(job_id=job.pk)
    second = job_prepare(job_id=job.pk)

    assert first is not None
    assert second is None
    assert GenerationJob.objects.get(pk=job.pk).attempts == 1


def test_flow_unreadable_photo_fails_job_with_reason():
    shop, product = _product_with_photo()
    image = product.images.get()
    image.stored.save("broken.jpg", ContentFile(b"<html>not a photo</html>"))
    job = jobs_create_for_shop(shop=shop)[0]

    assert job_prepare(job_id=job.pk) is None

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "broken" in job.failure_reason


def test_flow_generation_failure_recorded():
    shop, _ = _product_with_photo()
    job = jobs_create_for_shop(shop=shop)[0]
    job_prepare(job_id=job.pk)

    job_record_generation_failure(job_id=job.pk, round=1, reason="CUDA out of memory at 1 x 512")

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert job.failure_reason == "CUDA out of memory at 1 x 512"


def test_flow_product_without_source_photo_gets_no_job():
    shop = make_shop()
    product = make_product(shop)
    make_variant(product)
    make_image(product, kind=ImageKind.PRODUCT_ONLY)  # no stored copy

    assert jobs_create_for_shop(shop=shop) == []


def test_flow_job_linked_to_variants_its_photo_shows():
    shop = make_shop()
    product = make_product(shop, title="Tee", product_type="T-Shirts")
    white = [
        make_variant(product, selected_options=[{"name": "Color", "value": "White"}])
        for _ in range(2)
    ]
    black = make_variant(product, selected_options=[{"name": "Color", "value": "Black"}])
    for variants in (white, [black]):
        image = make_image(product, kind=ImageKind.PRODUCT_ONLY, variants=variants)
        image.stored.save("tee.jpg", ContentFile(b"jpeg bytes are not read here"))

    job = jobs_create_for_shop(shop=shop)[0]

    assert sorted(job.variants.values_list("pk", flat=True)) == sorted(v.pk for v in white)
    assert "White Tee" in job.prompt
