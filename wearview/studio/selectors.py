"""Read-side queries of the studio: the review queue and what a shop's embedded app shows."""

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Subquery

from wearview.catalog.models import Product, Shop, Variant
from wearview.catalog.selectors import products_needing_on_model, variants_needing_on_model
from wearview.studio.models import (
    OPEN_STATES,
    Candidate,
    GenerationJob,
    JobState,
    JobTransition,
    Publication,
    PublicationStatus,
)

# Score bands of the admin filter, as [low, high) ranges of the overall fidelity score.
SCORE_BANDS: dict[str, tuple[str, float, float]] = {
    "high": ("0.9 and above", 0.9, 1.01),
    "medium": ("0.75 to 0.9", 0.75, 0.9),
    "low": ("0.5 to 0.75", 0.5, 0.75),
    "poor": ("below 0.5", -1.0, 0.5),
}

IN_PROGRESS_STATES = (JobState.QUEUED, JobState.PREPARING, JobState.GENERATING)


def _first_variants() -> Prefetch:
    # One extra query per page for the SKUs, whatever the page size.
    return Prefetch(
        "job__variants",
        queryset=Variant.objects.only("pk", "sku", "title", "product_id").order_by("position"),
    )


def review_queue() -> QuerySet[Candidate]:
    """Candidates with their job, shop, product and source image joined, for the admin list.

    The join is fixed, so a page of any size costs the same number of queries: one for the
    rows, one for the variants of the page's jobs, plus the paginator's counts.
    """
    return (
        Candidate.objects.select_related("job", "job__shop", "job__product", "job__source_image")
        .prefetch_related(_first_variants())
        .defer("job__product__body_html", "job__shop__access_token", "job__shop__refresh_token")
    )


def candidates_waiting(queryset: QuerySet[Candidate] | None = None) -> QuerySet[Candidate]:
    """Filter `queryset` to candidates of the current round of jobs in review.

    A decision moves the job out of review, so these are the undecided ones. A job whose
    approval was taken back is in review again with all its candidates. The candidate's own
    status is not filtered on, because SQLite would then pick the status index and sort the
    whole queue instead of walking the primary key for one page.
    """
    queryset = Candidate.objects.all() if queryset is None else queryset
    return queryset.filter(job__state=JobState.IN_REVIEW, round=F("job__round"))


def score_band_filter(band: str) -> Q:
    """Return the condition for one of SCORE_BANDS on Candidate.score.

    Raises:
        ValueError: `band` is not one of SCORE_BANDS.
    """
    try:
        _, low, high = SCORE_BANDS[band]
    except KeyError:
        raise ValueError(
            f"Unknown score band {band!r}; use one of {', '.join(SCORE_BANDS)}."
        ) from None
    return Q(score__gte=low, score__lt=high)


def job_history(*, job: GenerationJob) -> QuerySet[JobTransition]:
    """Return the job's state changes, oldest first."""
    return JobTransition.objects.filter(job=job).order_by("created_at", "pk")


# The embedded app's reads. Each takes the verified shop, so a lookup of another shop's row
# finds nothing.


def shop_overview(*, shop: Shop) -> dict[str, int]:
    """Counts for the overview page of one shop."""
    job_counts = dict(
        GenerationJob.objects.filter(shop=shop)
        .values_list("state")
        .annotate(count=Count("pk"))
        .values_list("state", "count")
    )
    return {
        "products_synced": Product.objects.filter(shop=shop, deleted_at__isnull=True).count(),
        "skus_needing_photos": variants_needing_on_model(shop=shop).count(),
        "products_needing_photos": products_needing_on_model(shop=shop).count(),
        "jobs_in_progress": sum(job_counts.get(state, 0) for state in IN_PROGRESS_STATES),
        "waiting_for_review": job_counts.get(JobState.IN_REVIEW, 0),
        "approved": job_counts.get(JobState.APPROVED, 0),
        "publishing": job_counts.get(JobState.PUBLISHING, 0),
        "published": job_counts.get(JobState.PUBLISHED, 0),
        "failed": job_counts.get(JobState.FAILED, 0),
    }


def shop_jobs(*, shop: Shop, states: tuple[str, ...] | None = None) -> QuerySet[GenerationJob]:
    """Return the shop's jobs, newest first, with product and approved candidate joined."""
    jobs = GenerationJob.objects.filter(shop=shop).select_related(
        "product", "source_image", "approved_candidate"
    )
    if states is not None:
        jobs = jobs.filter(state__in=states)
    return jobs.order_by("-state_changed_at", "-pk")


def shop_jobs_in_progress(*, shop: Shop) -> QuerySet[GenerationJob]:
    """Jobs still queued, preparing or generating."""
    return shop_jobs(shop=shop, states=IN_PROGRESS_STATES)


def _current_candidates() -> Prefetch:
    current = Candidate.objects.filter(round=F("job__round")).order_by("-passed", "-score", "rank")
    return Prefetch("candidates", queryset=current, to_attr="current_candidates")


def shop_review_jobs(*, shop: Shop) -> QuerySet[GenerationJob]:
    """Jobs in review or approved, each with its current round's candidates best first."""
    return shop_jobs(shop=shop, states=(JobState.IN_REVIEW, JobState.APPROVED)).prefetch_related(
        _current_candidates()
    )


def shop_job_detail(*, shop: Shop, job_id: int) -> GenerationJob:
    """Return one job of the shop with its current round's candidates.

    Raises:
        GenerationJob.DoesNotExist: no job `job_id` belongs to `shop`.
    """
    return shop_jobs(shop=shop).prefetch_related(_current_candidates()).get(pk=job_id)


def shop_products_needing_photos(*, shop: Shop) -> QuerySet[Product]:
    """Return products that need on-model photos, with the number of SKUs still needing them
    (`skus_needing`) and whether a job is open for them (`has_open_job`)."""
    needing_count = (
        variants_needing_on_model(shop=shop)
        .filter(product=OuterRef("pk"))
        .values("product")
        .annotate(count=Count("pk"))
        .values("count")
    )
    open_job = GenerationJob.objects.filter(product=OuterRef("pk"), state__in=OPEN_STATES)
    return (
        products_needing_on_model(shop=shop)
        .annotate(skus_needing=Subquery(needing_count), has_open_job=Exists(open_job))
        .order_by("title", "pk")
    )


def shop_publications(*, shop: Shop) -> QuerySet[Publication]:
    """Return the shop's publications that are live or on their way, newest first."""
    return (
        Publication.objects.filter(shop=shop)
        .exclude(status=PublicationStatus.WITHDRAWN)
        .select_related("candidate", "candidate__job", "candidate__job__product")
        .order_by("-created_at", "-pk")
    )


def shop_job(*, shop: Shop, job_id: int) -> GenerationJob:
    """Return one job of the shop.

    Raises:
        GenerationJob.DoesNotExist: no job `job_id` belongs to `shop`.
    """
    return GenerationJob.objects.select_related("product", "approved_candidate").get(
        pk=job_id, shop=shop
    )


def shop_candidate(*, shop: Shop, candidate_id: int) -> Candidate:
    """Return one candidate of the shop's jobs.

    Raises:
        Candidate.DoesNotExist: no candidate `candidate_id` belongs to `shop`.
    """
    return Candidate.objects.select_related("job").get(pk=candidate_id, job__shop=shop)
