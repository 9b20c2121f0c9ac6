from django.apps import AppConfig


class SupervisionConfig(AppConfig):
    name = "qualitycity.supervision"
    label = "supervision"
