"""``qualitycity check CODE --scenario S [--department D] [--date YYYY-MM-DD] [--json]``

The check-before-act answer for one subject, logged like every check (source ``cli``; the
department is the platform's operator, the public credit information centre, unless named).
Exit status 1 for a malformed code, an unknown scenario or department.

The name is Django's system-check command too: without ``--scenario`` this command is that one
(``qualitycity check``, ``qualitycity check --deploy``, the test runner's checks), so nothing
that relies on it changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from django.core.management.base import CommandError
from django.core.management.commands.check import Command as SystemCheckCommand

from qualitycity.core.context import acting_as
from qualitycity.core.errors import ApplicationError
from qualitycity.discipline import services
from qualitycity.discipline.catalogue import catalogue
from qualitycity.discipline.models import Check


class Command(SystemCheckCommand):
    help = (
        "Check a subject before acting: `check CODE --scenario S` gives the lists in force and "
        "the measures of the scenario. Without --scenario: Django's system checks."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)  # positional: app labels, or the subject's code
        parser.add_argument("--scenario", help="scenario code: " + ", ".join(catalogue().scenarios))
        parser.add_argument("--department", help="checking department code (credit_centre)")
        parser.add_argument("--date", metavar="YYYY-MM-DD", help="the day (default today)")
        parser.add_argument("--json", action="store_true", help="print the API's JSON answer")

    def handle(self, *args: Any, **opts: Any) -> Any:
        if opts.get("scenario") is None:
            if opts.get("json") or opts.get("department") or opts.get("date"):
                raise CommandError("a subject check needs --scenario")
            return super().handle(*args, **opts)
        if len(args) != 1:
            raise CommandError("give one subject code: check CODE --scenario S")
        opts["code"] = args[0]
        day = None
        if opts["date"]:
            try:
                day = dt.date.fromisoformat(opts["date"])
            except ValueError:
                raise CommandError(f"--date must be YYYY-MM-DD, not {opts['date']!r}") from None
        try:
            with acting_as(source="cli"):
                checker = services.checker_for(None, opts["department"], source=Check.Source.CLI)
                result = services.check_run(
                    checker=checker, code=opts["code"], scenario=opts["scenario"], on=day
                )
        except ApplicationError as exc:
            details = exc.details if isinstance(exc.details, dict) else {}
            valid = f" (valid: {', '.join(details['valid'])})" if details.get("valid") else ""
            raise CommandError(f"{exc.code}: {exc.message}{valid}") from None
        if opts["json"]:
            self.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
            return
        self._print(result)

    def _print(self, r: dict[str, Any]) -> None:
        scenario = catalogue().scenarios[r["scenario"]]
        status = {
            "listed": "LISTED",
            "clean": "clean (registered, on no list)",
            "not_registered": "NOT REGISTERED (no subject under this code; not the same as clean)",
        }[r["status"]]
        self.stdout.write(f"{r['subject']}  {status}")
        self.stdout.write(
            f"scenario {scenario.code} ({scenario.name_zh})  date {r['date']}  "
            f"department {r['department']}  check #{r['check_id']}  data {r['data_version']}"
        )
        for item in r["lists"]:
            until = f" until {item['ends_on']}" if item["ends_on"] else ""
            self.stdout.write(
                f"  list  {item['kind']:<5} {item['list']:<24} {item['name_zh']}  "
                f"published {item['published_on']}{until}"
            )
        for m in r["measures"]:
            self.stdout.write(f"  {m['kind']:<10} {m['id']}: {m['text_zh']}")
            self.stdout.write(f"             {m['legal_basis']}")
        if r["status"] == "listed" and not r["measures"]:
            self.stdout.write("  no measure applies in this scenario on this day")
