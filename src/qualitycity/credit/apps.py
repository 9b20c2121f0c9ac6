from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "qualitycity.credit"
    label = "credit"

    def ready(self) -> None:
        # Registers the "evaluate" job kind, the dashboard panel and the credit-file section.
        from . import dashboard, services  # noqa: F401

        dashboard.register()
