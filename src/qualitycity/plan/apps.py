from django.apps import AppConfig


class PlanConfig(AppConfig):
    name = "qualitycity.plan"
    label = "plan"

    def ready(self) -> None:
        # The seed plan is loaded after every migrate (idempotent) and the dashboard panel is
        # registered.
        from . import dashboard, signals  # noqa: F401

        dashboard.register()
