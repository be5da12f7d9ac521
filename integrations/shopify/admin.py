from django.contrib import admin

from integrations.shopify.models import WebhookDelivery


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["webhook_id", "topic", "shop_domain", "status", "received_at", "processed_at"]
    list_filter = ["topic", "status"]
    search_fields = ["webhook_id", "event_id", "shop_domain"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request) -> bool:
        """Deliveries are recorded by the webhook endpoint only."""
        return False
