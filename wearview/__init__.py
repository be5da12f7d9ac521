"""WearView: on-model photos for Shopify stores from the product photos they already have."""

from wearview.celery import app as celery_app

__all__ = ["celery_app"]
