from django.apps import AppConfig


class ListsConfig(AppConfig):
    name = "qualitycity.lists"
    label = "lists"

    def ready(self) -> None:
        # Registers the "lists_propose" and "lists_expire" job kinds.
        from . import services  # noqa: F401
