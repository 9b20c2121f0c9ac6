from django.apps import AppConfig


class PlanConfig(AppConfig):
    name = "qualitycity.plan"
    label = "plan"

    def ready(self) -> None:
        # The seed plan is loaded after every migrate (idempotent), the dashboard panel and the
        # daily job ("plan_daily": overdue reports) are registered.
        from . import dashboard, services, signals  # noqa: F401

        dashboard.register()
