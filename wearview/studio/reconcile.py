"""Periodic repair of jobs that a lost message or a killed worker left behind.

Tasks acknowledge their message only when they finish, so a killed worker normally gets its
job redelivered. Some brokers lose unacknowledged messages when the consumer dies (kombu's
SQLAlchemy transport keeps them in the worker's memory), and a redelivered message can wait
behind a long queue. This sweep is the backstop: a job that sat in a working state longer than
that state's limit is started again, up to `MAX_ATTEMPTS` times, then failed with the reason.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
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
