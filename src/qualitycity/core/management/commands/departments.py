"""``qualitycity departments [--json]``: the departments and what they may submit."""

from django.core.management.base import BaseCommand

from qualitycity.core.cli import json_text
from qualitycity.core.selectors import department_list


class Command(BaseCommand):
    help = "List the departments."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON array for scripts")

    def handle(self, *args, json: bool = False, **options):  # noqa: A002
        rows = department_list()
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            flag = "*" if r["data_holding"] else " "
            self.stdout.write(f"{flag} {r['code']:<16} {r['name_zh']}  ({r['name_en']})")
        self.stdout.write("* one of the plan's credit-data-holding domains")
