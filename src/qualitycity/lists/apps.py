from django.apps import AppConfig


class ListsConfig(AppConfig):
    name = "qualitycity.lists"
    label = "lists"

    def ready(self) -> None:
        # Registers the "lists_propose" and "lists_expire" job kinds, the dashboard panel and
        # the credit-file section.
        from . import dashboard, services  # noqa: F401

        dashboard.register()
