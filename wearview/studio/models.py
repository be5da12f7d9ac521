"""Generation jobs, their candidates, and what was published to Shopify."""

from django.db import models

from wearview.catalog.models import Product, ProductImage, Shop, Variant


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    PREPARING = "preparing", "Preparing"
    GENERATING = "generating", "Generating"
    IN_REVIEW = "in_review", "In review"
    APPROVED = "approved", "Approved"
    PUBLISHING = "publishing", "Publishing"
    PUBLISHED = "published", "Published"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    CANCELLED = "cancelled", "Cancelled"


# States of a job that is still working on its product. A product has at most one such job.
OPEN_STATES = (
    JobState.QUEUED,
    JobState.PREPARING,
    JobState.GENERATING,
    JobState.IN_REVIEW,
    JobState.APPROVED,
    JobState.PUBLISHING,
)


class GenerationJob(models.Model):
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="jobs")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="jobs")
    variants = models.ManyToManyField(Variant, related_name="jobs", blank=True)
    source_image = models.ForeignKey(
        ProductImage, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    preset = models.CharField(max_length=20, default="restyle")
    prompt = models.TextField(blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED)
    failure_reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    round = models.PositiveIntegerField(
        default=1, help_text="Generation round; each regeneration starts a new one."
    )
    progress_step = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    prepared = models.JSONField(
        default=dict, blank=True, help_text="Storage keys of the canvas, mask and strength map."
    )
    approved_candidate = models.ForeignKey(
        "Candidate", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by = models.CharField(max_length=150, blank=True)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Duplicate webhooks and double clicks race to create jobs; the database keeps one.
            models.UniqueConstraint(
                fields=["product"],
                condition=models.Q(state__in=OPEN_STATES),
                name="one_open_job_per_product",
            ),
        ]
        indexes = [models.Index(fields=["shop", "state"])]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.state})"


class JobTransition(models.Model):
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(
        max_length=20, choices=JobState.choices, blank=True, help_text="Empty when created."
    )
    to_state = models.CharField(max_length=20, choices=JobState.choices)
    reason = models.TextField(blank=True)
    actor = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_state} -> {self.to_state}"


class CandidateStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Candidate(models.Model):
    job = models.ForeignKey(GenerationJob, on_delete=models.CASCADE, related_name="candidates")
    round = models.PositiveIntegerField(default=1)
    image = models.FileField(max_length=500)
    thumbnail = models.FileField(max_length=500, blank=True)
    seed = models.BigIntegerField()
    garment_strength = models.FloatField()
    background_strength = models.FloatField()
    scores = models.JSONField(default=dict, blank=True)
    score = models.FloatField(default=0.0, help_text="Overall fidelity score in 0..1.")
    passed = models.BooleanField(default=False)
    failure_reason = models.TextField(blank=True)
    rank = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=10, choices=CandidateStatus.choices, default=CandidateStatus.PENDING
    )
    review_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "round", "rank"]
        constraints = [
            # A redelivered GPU task reports the same candidates again; they are stored once.
            models.UniqueConstraint(
                fields=["job", "round", "seed", "garment_strength", "background_strength"],
                name="candidate_unique_per_round",
            ),
        ]
        indexes = [models.Index(fields=["status", "passed"])]

    def __str__(self) -> str:
        return f"candidate {self.pk} of job {self.job_id}"


class PublicationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    STAGED = "staged", "Uploaded to staging"
    ATTACHED = "attached", "Attached, processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Publication(models.Model):
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="publications")
    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="publications")
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(
        max_length=10, choices=PublicationStatus.choices, default=PublicationStatus.PENDING
    )
    staged_resource_url = models.TextField(blank=True)
    shopify_media_id = models.CharField(max_length=100, blank=True, db_index=True)
    shopify_file_id = models.CharField(max_length=100, blank=True)
    alt_text = models.CharField(max_length=512, blank=True)
    error_message = models.TextField(blank=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"publication {self.pk} ({self.status})"
