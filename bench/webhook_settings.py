"""Settings of the webhook benchmark: the project's settings with the Shopify URLs mounted
under `shopify/`, in case the project's URL configuration does not include them yet."""

from wearview.settings import *  # noqa: F403

ROOT_URLCONF = "bench.webhook_urls"
