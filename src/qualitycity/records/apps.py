from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "qualitycity.records"
    label = "records"

    def ready(self) -> None:
        # Registers the "ingest" job kind and the re-check of quarantined rows on registration.
        from . import dashboard, services

        services.connect_signals()
        # The records panels of the staff dashboard (subjects, records, quarantine, timeliness).
        dashboard.register()
