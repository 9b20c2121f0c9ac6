from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "qualitycity.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from . import i18n, signals  # noqa: F401

        i18n.ensure_compiled()
