from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "qualitycity.records"
    label = "records"
