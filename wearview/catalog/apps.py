from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "wearview.catalog"
    verbose_name = "Catalog"
