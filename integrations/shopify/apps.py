from django.apps import AppConfig


class ShopifyConfig(AppConfig):
    name = "integrations.shopify"
    label = "shopify"
    verbose_name = "Shopify"
