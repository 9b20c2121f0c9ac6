"""``qualitycity jobs [--json] [--limit N]``: recent jobs and their progress."""

import json

from django.core.management.base import BaseCommand

from qualitycity.core.selectors import job_list


class Command(BaseCommand):
    help = "List recent jobs with their progress and outcome."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=20)
        parser.add_argument("--json", action="store_true", help="one JSON array for scripts")

    def handle(self, *args, limit: int, json: bool = False, **options):  # noqa: A002
        rows = job_list(limit=limit)
        if json:
            self.stdout.write(_dumps(rows))
            return
        for r in rows:
            pct = "" if r["percent"] is None else f"{r['percent']:5.1f}%"
            self.stdout.write(
                f"{r['id']}  {r['status']:<9} {pct:>6}  {r['done']:>9} {r['unit']:<5} {r['title']}"
            )


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)
