from django.apps import AppConfig


class DisciplineConfig(AppConfig):
    name = "qualitycity.discipline"
    label = "discipline"
    verbose_name = "Joint reward and punishment"
