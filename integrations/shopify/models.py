"""Records of what Shopify sent the app: webhook deliveries and OAuth state nonces."""

from django.db import models

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
