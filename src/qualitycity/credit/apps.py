from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "qualitycity.credit"
    label = "credit"

    def ready(self) -> None:
        # Registers the "evaluate" job kind and the dashboard panels.
        from . import dashboard, services  # noqa: F401

        dashboard.register()
