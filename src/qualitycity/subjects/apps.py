from django.apps import AppConfig


class SubjectsConfig(AppConfig):
    name = "qualitycity.subjects"
    label = "subjects"
