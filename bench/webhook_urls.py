"""URLs of the webhook benchmark: the project's URLs plus the Shopify integration's."""

from django.urls import include, path

from wearview.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *[p for p in project_urlpatterns if "shopify" not in str(p.pattern)],
    path("shopify/", include("integrations.shopify.urls")),
]
