"""URLs of the Shopify integration; included under the `shopify/` prefix."""

from django.urls import path

from integrations.shopify import views, webhooks

app_name = "shopify"

urlpatterns = [
    path("webhooks", webhooks.webhook_view, name="webhooks"),
    path("install", views.install_view, name="install"),
    path("callback", views.callback_view, name="callback"),
    path("token-exchange", views.token_exchange_view, name="token_exchange"),
    path("session", views.session_view, name="session"),
]
