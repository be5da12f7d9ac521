from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "wearview.studio"
    verbose_name = "Studio"

    def ready(self) -> None:
        from wearview.studio import receivers  # noqa: F401
