"""Review decisions on a job's candidates: approve, reject, regenerate, publish, withdraw.

Admin actions, embedded app views and the demo call these services; each goes through the
state machine, so a double click or two reviewers at once cannot apply a decision twice.
"""

import logging

from django.db import transaction

from wearview.studio.errors import IllegalTransition
from wearview.studio.models import (
    Candidate,
    CandidateStatus,
    GenerationJob,
    JobState,
    Publication,
    PublicationStatus,
)
from wearview.studio.prompts import build_prompt, visual_option_values
from wearview.studio.services import job_transition

logger = logging.getLogger(__name__)

PUBLISH_TASK = "integrations.shopify.tasks.publish_publication_task"
WITHDRAW_TASK = "integrations.shopify.tasks.withdraw_publication_task"


def candidate_approve(*, candidate_id: int, actor: str) -> GenerationJob:
    """Approve one candidate of a job in review; the job moves to approved."""
    with transaction.atomic():
        candidate = Candidate.objects.select_related("job").get(pk=candidate_id)
        job = candidate.job
        if candidate.round != job.round:
            raise IllegalTransition(
                f"Candidate {candidate.pk} belongs to round {candidate.round} of job {job.pk}, "
                f"which is in round {job.round}; approve a candidate of the current round."
            )
        job = job_transition(
            job_id=job.pk,
            to_state=JobState.APPROVED,
            actor=actor,
            reason=f"candidate {candidate.pk}",
            from_states=[JobState.IN_REVIEW],
        )
        Candidate.objects.filter(pk=candidate.pk).update(status=CandidateStatus.APPROVED)
        GenerationJob.objects.filter(pk=job.pk).update(approved_candidate=candidate)
    return job


def job_reject(*, job_id: int, actor: str, reason: str = "") -> GenerationJob:
    """Reject every candidate of the job's current round."""
    with transaction.atomic():
        job = job_transition(
            job_id=job_id,
            to_state=JobState.REJECTED,
            actor=actor,
            reason=reason,
            from_states=[JobState.IN_REVIEW],
        )
        Candidate.objects.filter(job_id=job_id, round=job.round).update(
            status=CandidateStatus.REJECTED, review_note=reason
        )
    return job


def job_regenerate(
    *,
    job_id: int,
    actor: str,
    seeds: list[int] | None = None,
    preset: str | None = None,
    model_look: str | None = None,
    pose: str | None = None,
    scene: str | None = None,
) -> GenerationJob:
    """Start a new generation round with other seeds, strength preset or prompt preset.

    Candidates of earlier rounds stay for reference. The prepare task is sent after commit.
    """
    from wearview.studio.tasks import prepare_job_task

    with transaction.atomic():
        job = GenerationJob.objects.select_related("shop", "product").get(pk=job_id)
        parameters = dict(job.parameters or {})
        if seeds:
            parameters["seeds"] = [int(seed) for seed in seeds]
        else:
            previous = [int(seed) for seed in parameters.get("seeds", [])] or [0]
            parameters["seeds"] = [seed + 1000 for seed in previous]
        variant = job.variants.first()
        prompt = build_prompt(
            shop=job.shop,
            product=job.product,
            option_values=visual_option_values(variant.selected_options) if variant else [],
            model_look=model_look,
            pose=pose,
            scene=scene,
        )
        job = job_transition(
            job_id=job.pk,
            to_state=JobState.QUEUED,
            actor=actor,
            reason="regenerate",
            from_states=[JobState.IN_REVIEW, JobState.REJECTED, JobState.FAILED],
        )
        GenerationJob.objects.filter(pk=job.pk).update(
            round=job.round + 1,
            parameters=parameters,
            preset=preset or job.preset,
            prompt=prompt,
            approved_candidate=None,
        )
        transaction.on_commit(lambda: prepare_job_task.delay(job.pk))
    job.refresh_from_db()
    return job


def job_publish(*, job_id: int, actor: str) -> Publication:
    """Move an approved job to publishing and send its publish task after commit."""
    from wearview.celery import app

    with transaction.atomic():
        job = job_transition(
            job_id=job_id,
            to_state=JobState.PUBLISHING,
            actor=actor,
            from_states=[JobState.APPROVED],
        )
        job = GenerationJob.objects.select_related("shop", "approved_candidate").get(pk=job.pk)
        candidate = job.approved_candidate
        if candidate is None:
            raise IllegalTransition(f"Job {job.pk} has no approved candidate to publish.")
        publication, _ = Publication.objects.get_or_create(
            idempotency_key=f"job-{job.pk}-candidate-{candidate.pk}",
            defaults={
                "candidate": candidate,
                "shop": job.shop,
                "alt_text": job.shop.disclosure_text,
            },
        )
        if publication.status == PublicationStatus.FAILED:
            Publication.objects.filter(pk=publication.pk).update(
                status=PublicationStatus.PENDING, error_message=""
            )
        transaction.on_commit(lambda: app.send_task(PUBLISH_TASK, args=[publication.pk]))
    logger.info(
        "Job %s of shop %s: publication %s requested by %s",
        job.pk,
        job.shop.domain,
        publication.pk,
        actor,
    )
    return publication


def job_withdraw(*, job_id: int, actor: str) -> Publication:
    """Send the withdraw task for a published job's image; the task moves the job on success."""
    from wearview.celery import app

    job = GenerationJob.objects.select_related("shop").get(pk=job_id)
    if job.state != JobState.PUBLISHED:
        raise IllegalTransition(
            f"Job {job.pk} is {job.state!r}; only a published job's image can be withdrawn."
        )
    publication = (
        Publication.objects.filter(candidate__job=job, status=PublicationStatus.READY)
        .order_by("-created_at")
        .first()
    )
    if publication is None:
        raise IllegalTransition(f"Job {job.pk} has no ready publication to withdraw.")
    transaction.on_commit(lambda: app.send_task(WITHDRAW_TASK, args=[publication.pk]))
    logger.info(
        "Job %s of shop %s: withdrawal of publication %s requested by %s",
        job.pk,
        job.shop.domain,
        publication.pk,
        actor,
    )
    return publication
