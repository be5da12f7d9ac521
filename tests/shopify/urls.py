"""URLs of the Shopify tests: the integration's URLs under the prefix the project uses."""

from django.urls import include, path

urlpatterns = [
    path("shopify/", include("integrations.shopify.urls")),
]
