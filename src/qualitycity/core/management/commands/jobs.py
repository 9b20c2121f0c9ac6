"""``qualitycity jobs [--json] [--limit N]``: recent jobs and their progress;
``qualitycity jobs --daily [--json]``: the daily jobs, their last run and their next."""

from django.core.management.base import BaseCommand

from qualitycity.core.cli import json_text
from qualitycity.core.selectors import job_list


class Command(BaseCommand):
    help = "List recent jobs with their progress and outcome."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--json", action="store_true", help="one JSON array for scripts")
        parser.add_argument(
            "--daily", action="store_true", help="the daily jobs the worker starts by itself"
        )

    def handle(self, *args, limit: int, json: bool = False, daily: bool = False, **options):  # noqa: A002
        if daily:
            self._daily(json)
            return
        rows = job_list(limit=limit)
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            pct = "" if r["percent"] is None else f"{r['percent']:5.1f}%"
            self.stdout.write(
                f"{r['id']}  {r['status']:<9} {pct:>6}  {r['done']:>9} {r['unit']:<5} {r['title']}"
            )

    def _daily(self, as_json: bool) -> None:
        from qualitycity.core.schedule import schedule_status

        rows = schedule_status()
        if as_json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            last = f"{r['last_day']} ({r['last_status'] or '-'})" if r["last_day"] else "never"
            self.stdout.write(
                f"{r['name']:<24} daily at {r['at']}  last {last:<24} "
                f"next {r['next']:%Y-%m-%d %H:%M}  {r['description']}"
            )
