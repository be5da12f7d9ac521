from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "wearview.studio"
    verbose_name = "Studio"
