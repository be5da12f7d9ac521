"""Records of what Shopify sent the app: webhook deliveries and OAuth state nonces."""

from django.db import models
from django.utils import timezone

from wearview.catalog.models import Shop


class WebhookDeliveryStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    SKIPPED = "skipped", "Skipped"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One accepted webhook delivery; the unique webhook id makes redeliveries harmless."""

    shop_domain = models.CharField(max_length=255, db_index=True)
    shop = models.ForeignKey(
        Shop, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries"
    )
    topic = models.CharField(max_length=100)
    webhook_id = models.CharField(max_length=100, unique=True)
    event_id = models.CharField(max_length=100, blank=True, db_index=True)
    api_version = models.CharField(max_length=20, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.RECEIVED
    )
    error_message = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.topic} for {self.shop_domain} ({self.webhook_id})"


class OAuthState(models.Model):
    """A one-time `state` nonce of the authorization-code flow."""

    shop_domain = models.CharField(max_length=255)
    nonce = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.shop_domain} ({'used' if self.used_at else 'open'})"


class SyncMode(models.TextChoices):
    PAGES = "pages", "Paged GraphQL queries"
    BULK = "bulk", "Bulk operation"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One full sync of a shop's catalog; a retried task resumes from `cursor`."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="sync_runs")
    mode = models.CharField(max_length=10, choices=SyncMode.choices)
    status = models.CharField(max_length=10, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    cursor = models.TextField(blank=True, help_text="endCursor of the last stored page.")
    bulk_operation_id = models.CharField(max_length=100, blank=True, db_index=True)
    products_seen = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    requested_cost = models.PositiveIntegerField(default=0)
    actual_cost = models.PositiveIntegerField(default=0)
    products_deleted = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField()
    progressed_at = models.DateTimeField(
        default=timezone.now, help_text="Last stored page or bulk status check."
    )
    resumes = models.PositiveSmallIntegerField(
        default=0, help_text="Times the sweep sent a stalled run's task again."
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Two sync tasks for one shop (a double click, a redelivered message) would page
            # through the catalog twice. The database keeps one running run per shop.
            models.UniqueConstraint(
                fields=["shop"],
                condition=models.Q(status="running"),
                name="one_running_sync_per_shop",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mode} sync of {self.shop_id} ({self.status})"


class PublicationProgress(models.Model):
    """What a publish has already done on Shopify, so a retry after a crash repeats nothing.

    `attach_requested_at` is written before the attach mutation is sent. When it is set and no
    media id was stored, the attach may have gone through before a crash. The publish then
    looks for the media on the product, by its original source URL, before attaching again.
    """

    publication = models.OneToOneField(
        "studio.Publication", on_delete=models.CASCADE, related_name="shopify_progress"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    staged_filename = models.CharField(max_length=255, blank=True)
    attach_requested_at = models.DateTimeField(null=True, blank=True)
    image = models.ForeignKey(
        "catalog.ProductImage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    variants_appended_at = models.DateTimeField(null=True, blank=True)
    variant_errors = models.JSONField(default=list, blank=True)
    replaced_variant_media = models.JSONField(
        default=dict,
        blank=True,
        help_text="Merchant media detached from each variant (variant id to media ids), "
        "given back when the image is withdrawn.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"progress of publication {self.publication_id}"
