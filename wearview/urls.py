from django.contrib import admin
from django.urls import include, path

from wearview import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("app/", include(("wearview.studio.urls", "studio_app"), namespace="studio_app")),
    path("shopify/", include("integrations.shopify.urls")),
]
