from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "qualitycity.portal"
    label = "portal"
