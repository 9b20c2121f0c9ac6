from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "qualitycity.supervision"
    label = "supervision"

    def ready(self) -> None:
        # Registers the "supervision_daily" job kind and its daily start.
        from . import services  # noqa: F401
