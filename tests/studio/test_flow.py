"""How the studio reacts to synced and deleted products."""

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from tests.factories import make_image, make_product, make_shop, make_variant
from wearview.catalog.models import ImageKind
from wearview.studio.flow import CANCELLABLE_ON_DELETE, product_jobs_cancel, products_process
from wearview.studio.models import GenerationJob, JobState

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def _installed_shop(**fields):
    return make_shop(installed_at=timezone.now(), auto_generate=True, **fields)


def _product_with_stored_photo(shop, kind=ImageKind.PRODUCT_ONLY):
    product = make_product(shop)
    make_variant(product)
    image = make_image(product, kind=kind)
    image.stored.save("photo.jpg", ContentFile(b"classified already, not read"))
    return product


def test_process_opens_job_for_new_product(django_capture_on_commit_callbacks):
    shop = _installed_shop()
    product = _product_with_stored_photo(shop)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="webhook")

    assert outcome["jobs"] == 1
    assert len(callbacks) == 1
    assert GenerationJob.objects.get(product=product).state == JobState.QUEUED


def test_process_publish_cause_opens_nothing():
    shop = _installed_shop()
    product = _product_with_stored_photo(shop)

    outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="publish")

    assert outcome["jobs"] == 0
    assert not GenerationJob.objects.filter(product=product).exists()


def test_process_product_with_job_history_left_to_merchant():
    shop = _installed_shop()
    product = _product_with_stored_photo(shop)
    GenerationJob.objects.create(shop=shop, product=product, state=JobState.PUBLISHED)

    outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="webhook")

    assert outcome["jobs"] == 0
    assert GenerationJob.objects.filter(product=product).count() == 1


def test_process_auto_generate_off_opens_nothing():
    shop = _installed_shop()
    shop.auto_generate = False
    shop.save()
    product = _product_with_stored_photo(shop)

    assert products_process(shop_id=shop.pk, product_ids=[product.pk], cause="sync")["jobs"] == 0


def test_process_on_model_photo_cancels_open_job():
    shop = _installed_shop()
    product = _product_with_stored_photo(shop)
    job = GenerationJob.objects.create(shop=shop, product=product, state=JobState.IN_REVIEW)
    on_model = make_image(product, kind=ImageKind.ON_MODEL)
    on_model.stored.save("model.jpg", ContentFile(b"x"))

    outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="webhook")

    job.refresh_from_db()
    assert outcome["cancelled"] == 1
    assert job.state == JobState.CANCELLED


def test_process_waits_for_image_copies():
    shop = _installed_shop()
    product = make_product(shop)
    make_variant(product)
    make_image(product, kind=None)  # synced, but its copy has not landed in storage yet

    outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="sync")

    assert outcome["waiting"] == [product.pk]
    assert outcome["jobs"] == 0


def test_process_uninstalled_shop_ignored():
    shop = make_shop(auto_generate=True)
    product = _product_with_stored_photo(shop)

    outcome = products_process(shop_id=shop.pk, product_ids=[product.pk], cause="webhook")

    assert outcome["jobs"] == 0


def test_cancel_on_delete_stops_generating_job():
    shop = _installed_shop()
    product = _product_with_stored_photo(shop)
    job = GenerationJob.objects.create(shop=shop, product=product, state=JobState.GENERATING)

    cancelled = product_jobs_cancel(
        shop_id=shop.pk, product_ids=[product.pk], reason="deleted", states=CANCELLABLE_ON_DELETE
    )

    job.refresh_from_db()
    assert cancelled == 1
    assert job.state == JobState.CANCELLED
    assert job.transitions.last().reason == "deleted"


def test_cancel_on_delete_follows_concurrent_move(monkeypatch):
    """A worker moves the job from preparing to generating between the query and the
    cancel; the job is still cancelled, because generating is cancellable too."""
    from wearview.studio import flow

    shop = _installed_shop()
    product = _product_with_stored_photo(shop)
    job = GenerationJob.objects.create(shop=shop, product=product, state=JobState.PREPARING)
    real_transition = flow.job_transition

    def worker_moves_first(**kwargs):
        GenerationJob.objects.filter(pk=job.pk).update(state=JobState.GENERATING)
        return real_transition(**kwargs)

    monkeypatch.setattr(flow, "job_transition", worker_moves_first)

    cancelled = product_jobs_cancel(
        shop_id=shop.pk, product_ids=[product.pk], reason="deleted", states=CANCELLABLE_ON_DELETE
    )

    job.refresh_from_db()
    assert cancelled == 1
    assert job.state == JobState.CANCELLED
