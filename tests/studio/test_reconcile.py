from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_image, make_product, make_shop
from wearview.studio import generation
from wearview.studio.models import GenerationJob, JobState
from wearview.studio.reconcile import MAX_ATTEMPTS, jobs_expire_stuck
from wearview.studio.services import job_create


def _job(state: str, *, age: timedelta, attempts: int = 0) -> GenerationJob:
    product = make_product(make_shop())
    job, _ = job_create(
        product=product, source_image=make_image(product), variants=[], preset="restyle"
    )
    then = timezone.now() - age
    GenerationJob.objects.filter(pk=job.pk).update(
        state=state, state_changed_at=then, updated_at=then, attempts=attempts
    )
    return job


@pytest.mark.django_db
@pytest.mark.parametrize("state", [JobState.PREPARING, JobState.GENERATING])
def test_reconcile_stuck_job_restarted(state, django_capture_on_commit_callbacks):
    job = _job(state, age=timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        counts = jobs_expire_stuck()

    assert counts == {"restarted": 1, "failed": 0}
    assert GenerationJob.objects.get(pk=job.pk).state == JobState.QUEUED
    assert len(callbacks) == 1


@pytest.mark.django_db
def test_reconcile_stuck_job_failed_after_attempts():
    job = _job(JobState.GENERATING, age=timedelta(hours=2), attempts=MAX_ATTEMPTS)

    counts = jobs_expire_stuck()

    job.refresh_from_db()
    assert counts == {"restarted": 0, "failed": 1}
    assert job.state == JobState.FAILED
    assert "Stuck in generating" in job.failure_reason
    assert f"job {job.pk}" in job.failure_reason


@pytest.mark.django_db
def test_reconcile_recent_and_review_jobs_untouched(django_capture_on_commit_callbacks):
    recent = _job(JobState.GENERATING, age=timedelta(minutes=1))
    in_review = _job(JobState.IN_REVIEW, age=timedelta(days=3))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        counts = jobs_expire_stuck()

    assert counts == {"restarted": 0, "failed": 0}
    assert callbacks == []
    assert GenerationJob.objects.get(pk=recent.pk).state == JobState.GENERATING
    assert GenerationJob.objects.get(pk=in_review.pk).state == JobState.IN_REVIEW


@pytest.mark.django_db
def test_reconcile_generating_job_with_recent_progress_untouched(
    django_capture_on_commit_callbacks,
):
    """A batch redelivered after its GPU worker was killed started long ago, but it reports
    progress again, so the sweep must not start a second generation beside it."""
    job = _job(JobState.GENERATING, age=timedelta(hours=2))
    generation.job_record_progress(job_id=job.pk, round=job.round, step=3, total=20)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        counts = jobs_expire_stuck()

    job.refresh_from_db()
    assert counts == {"restarted": 0, "failed": 0}
    assert callbacks == []
    assert job.state == JobState.GENERATING
    assert job.progress_step == 3


@pytest.mark.django_db
def test_reconcile_queued_job_resent_without_transition(django_capture_on_commit_callbacks):
    job = _job(JobState.QUEUED, age=timedelta(hours=1))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs_expire_stuck()

    job.refresh_from_db()
    assert job.state == JobState.QUEUED
    assert job.state_changed_at > timezone.now() - timedelta(minutes=1)
    assert len(callbacks) == 1
