from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _sync_departments(sender, app_config=None, using="default", **kwargs):
    # Departments are configuration: after every migrate the table matches the file.
    if app_config is not None and app_config.label == "core":
        from . import context
        from .services import department_sync

        with context.acting_as(source="system"):
            department_sync()
