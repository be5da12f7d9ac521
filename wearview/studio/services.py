"""Business rules of generation jobs: the state machine and job creation.

Every change of a job's state goes through `job_transition`, which locks the row, checks the
move against `ALLOWED_TRANSITIONS`, records it in the job's history and logs it.
"""

import logging
from collections.abc import Iterable, Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from wearview.catalog.models import Product, ProductImage, Variant
from wearview.studio.errors import IllegalTransition, JobStateConflict
from wearview.studio.models import OPEN_STATES, GenerationJob, JobState, JobTransition

logger = logging.getLogger(__name__)

S = JobState
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.QUEUED: frozenset({S.PREPARING, S.FAILED, S.CANCELLED}),
    # Back to queued from preparing or generating restarts a job whose worker was lost.
    S.PREPARING: frozenset({S.GENERATING, S.QUEUED, S.FAILED, S.CANCELLED}),
    S.GENERATING: frozenset({S.IN_REVIEW, S.QUEUED, S.FAILED, S.CANCELLED}),
    # Back to queued is a regeneration with new seeds, strengths or presets.
    S.IN_REVIEW: frozenset({S.APPROVED, S.REJECTED, S.QUEUED, S.CANCELLED}),
    # Back to in_review takes an approval back before anything was sent to Shopify.
    S.APPROVED: frozenset({S.PUBLISHING, S.IN_REVIEW, S.CANCELLED}),
    S.PUBLISHING: frozenset({S.PUBLISHED, S.FAILED}),
    S.PUBLISHED: frozenset({S.WITHDRAWN}),
    S.REJECTED: frozenset({S.QUEUED}),
    # A failed job is retried from the start, or its publish is retried when a candidate was
    # already approved.
    S.FAILED: frozenset({S.QUEUED, S.APPROVED}),
    S.WITHDRAWN: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL_STATES = frozenset(state for state, nexts in ALLOWED_TRANSITIONS.items() if not nexts)


def job_transition(
    *,
    job_id: int,
    to_state: str,
    reason: str = "",
    actor: str = "system",
    from_states: Iterable[str] | None = None,
) -> GenerationJob:
    """Move a job to `to_state` and record the move.

    The row is locked for the length of the transaction, so two workers (or a worker and a
    double click in the admin) that try to move the same job serialise: the second one sees the
    state the first one left and is rejected instead of repeating the step.

    Arguments:
        job_id: the job to move.
        to_state: a `JobState` value.
        reason: why; stored as the failure reason when `to_state` is failed.
        actor: who asked (a user name, "webhook", "worker", "system").
        from_states: when given, the move happens only if the job is in one of these states;
            otherwise JobStateConflict is raised. Tasks use it to make a rerun harmless.

    Raises:
        GenerationJob.DoesNotExist: no job with that id.
        JobStateConflict: the job is not in one of `from_states`.
        IllegalTransition: the state machine does not allow the move.
    """
    if to_state not in ALLOWED_TRANSITIONS:
        raise IllegalTransition(
            f"Unknown job state {to_state!r}; use one of {', '.join(ALLOWED_TRANSITIONS)}."
        )
    with transaction.atomic():
        job = GenerationJob.objects.select_for_update().select_related("shop").get(pk=job_id)
        current = job.state
        if from_states is not None and current not in set(from_states):
            raise JobStateConflict(
                f"Job {job.pk} is {current!r}, not one of {sorted(from_states)}; "
                f"another process has moved it."
            )
        allowed = ALLOWED_TRANSITIONS[current]
        if to_state not in allowed:
            nexts = ", ".join(sorted(allowed)) or "none, it is final"
            raise IllegalTransition(
                f"Job {job.pk} cannot move from {current!r} to {to_state!r}; "
                f"allowed next states: {nexts}."
            )
        now = timezone.now()
        job.state = to_state
        job.state_changed_at = now
        update_fields = ["state", "state_changed_at", "updated_at"]
        if to_state == S.FAILED:
            job.failure_reason = reason
            update_fields.append("failure_reason")
        elif to_state == S.QUEUED:
            job.failure_reason = ""
            job.progress_step = 0
            job.progress_total = 0
            update_fields += ["failure_reason", "progress_step", "progress_total"]
        job.save(update_fields=update_fields)
        JobTransition.objects.create(
            job=job, from_state=current, to_state=to_state, reason=reason, actor=actor
        )
    logger.info(
        "Job %s of shop %s moved %s -> %s by %s%s",
        job.pk,
        job.shop.domain,
        current,
        to_state,
        actor,
        f": {reason}" if reason else "",
    )
    return job


def job_create(
    *,
    product: Product,
    source_image: ProductImage | None,
    variants: Sequence[Variant],
    preset: str,
    prompt: str = "",
    parameters: dict | None = None,
    requested_by: str = "system",
) -> tuple[GenerationJob, bool]:
    """Create a queued job for `product`, or return its open job if it already has one.

    Returns the job and whether it was created. The database allows one open job per product,
    so duplicate webhook deliveries and concurrent requests end with a single job.
    """
    try:
        with transaction.atomic():
            job = GenerationJob.objects.create(
                shop=product.shop,
                product=product,
                source_image=source_image,
                preset=preset,
                prompt=prompt,
                parameters=parameters or {},
                requested_by=requested_by,
            )
            job.variants.set(variants)
            JobTransition.objects.create(
                job=job, from_state="", to_state=S.QUEUED, reason="created", actor=requested_by
            )
    except IntegrityError:
        existing = GenerationJob.objects.filter(product=product, state__in=OPEN_STATES).first()
        if existing is None:
            raise
        logger.info(
            "Shop %s product %s already has open job %s; no new job created",
            product.shop.domain,
            product.pk,
            existing.pk,
        )
        return existing, False
    logger.info(
        "Job %s created for shop %s product %s by %s",
        job.pk,
        product.shop.domain,
        product.pk,
        requested_by,
    )
    return job, True
