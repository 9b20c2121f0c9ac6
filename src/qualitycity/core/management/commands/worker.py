"""``qualitycity worker``: runs queued jobs from the database (django-tasks database backend)
and starts the daily jobs when they are due (``core.schedule``)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from qualitycity.core.schedule import run_due, start_scheduler


class Command(BaseCommand):
    help = (
        "Run queued jobs (ingestion, evaluations, reports). Production runs one or more of these."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")
        parser.add_argument("--interval", type=float, default=1.0)

    def handle(self, *args, batch, interval, **options):
        if batch:
            run_due()  # what is due today is queued, then run with the rest
        else:
            start_scheduler()
        call_command(
            "db_worker",
            batch=batch,
            interval=interval,
            reload=False,
            verbosity=options.get("verbosity", 1),
        )
