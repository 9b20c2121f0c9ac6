from django.db.models.signals import post_migrate
from django.dispatch import receiver


@receiver(post_migrate)
def _load_seed_plan(sender, app_config=None, using="default", **kwargs):
    # The seed plan ships preloaded: after every migrate of this app it is loaded if absent.
    # A plan that exists is left alone (its confirmations and edits are the office's).
    if app_config is not None and app_config.label == "plan":
        from qualitycity.core import context

        from .services import seed_plan_ensure

        with context.acting_as(source="system"):
            seed_plan_ensure()
