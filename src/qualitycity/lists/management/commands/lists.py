"""``qualitycity lists``: the list catalogue, rule proposals, expiry, overdue decisions, entries.

::

    qualitycity lists [--json]                                   the catalogue
    qualitycity lists propose [--on D] [--list L]... [--json]    run the proposal rules (a job)
    qualitycity lists expire [--on D] [--json]                   expire entries, flag deadlines
    qualitycity lists overdue [--department D] [--json]          overdue objections and repairs
    qualitycity lists entries [--list L] [--state S] [--department D] [--subject CODE]
                              [--limit N] [--json]

Rules only propose entries; publishing is a decision of the owning department (UI or API).
Natural persons are masked in the output.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.cli import date_arg, json_text
from qualitycity.core.errors import ApplicationError
from qualitycity.core.jobs import job_create, job_run
from qualitycity.core.models import Job
from qualitycity.lists import selectors
from qualitycity.lists.catalogue import get_list
from qualitycity.lists.models import ListEntry
from qualitycity.lists.services import effective_day


class Command(BaseCommand):
    help = "Red, black and watch lists: catalogue, rule proposals, expiry, overdue decisions."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")
        sub = parser.add_subparsers(dest="action")
        propose = sub.add_parser("propose", help="propose entries from the lists' rules")
        propose.add_argument("--on", type=date_arg, help="the day the rules run (default today)")
        propose.add_argument("--list", action="append", dest="lists", metavar="L")
        propose.add_argument("--json", action="store_true")
        propose.add_argument("--no-progress", action="store_true")
        expire = sub.add_parser("expire", help="expire entries whose publication has ended")
        expire.add_argument("--on", type=date_arg, help="today's date (default today)")
        expire.add_argument("--json", action="store_true")
        expire.add_argument("--no-progress", action="store_true")
        overdue = sub.add_parser("overdue", help="objections and repairs past their deadline")
        overdue.add_argument("--department")
        overdue.add_argument("--json", action="store_true")
        entries = sub.add_parser("entries", help="entries in every state")
        entries.add_argument("--list", dest="list_code")
        entries.add_argument("--state", choices=ListEntry.State.values)
        entries.add_argument("--department")
        entries.add_argument("--subject", help="a subject's code")
        entries.add_argument("--limit", type=int, default=100)
        entries.add_argument("--json", action="store_true")

    def handle(self, *args: Any, action: str | None = None, **opts: Any) -> None:
        try:
            with context.acting_as(source="cli"):
                getattr(self, f"_{action or 'catalogue'}")(**opts)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    # --- catalogue ---------------------------------------------------------------------------

    def _catalogue(self, *, json: bool = False, **_: Any) -> None:  # noqa: A002
        rows = selectors.catalogue_list()
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            period = (
                f"{r['valid_months']} months"
                if r["kind"] == "red"
                else f"{r['level']} {r['period']['min_months']}–{r['period']['max_months']} months"
            )
            rule = r["proposal_rule"]["dataset"] if r["proposal_rule"] else "manual"
            self.stdout.write(
                f"{r['code']:<24} {r['kind']:<6} {r['department']:<15} {period:<22} "
                f"rule: {rule:<22} in force: {r['entries_in_force']:>6}  {r['name_zh']}"
            )

    # --- jobs --------------------------------------------------------------------------------

    def _run(self, job: Job, *, no_progress: bool, desc: str, unit: str) -> Job:
        bar = None
        if not no_progress:
            from tqdm import tqdm

            bar = tqdm(desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
        try:
            job = job_run(job, bar=bar)
        finally:
            if bar is not None:
                bar.close()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(f"{job.kind} failed: {job.error}")
        return job

    def _propose(self, *, on, lists, json: bool, no_progress: bool, **_: Any) -> None:  # noqa: A002
        for code in lists or []:
            get_list(code)
        day = effective_day(on)
        job = job_create(
            kind="lists_propose",
            title=f"List proposals from rules on {day}",
            params={"on": day.isoformat(), "list_codes": lists or None},
        )
        Job.objects.filter(pk=job.pk).update(unit="records")
        outcome = self._run(job, no_progress=no_progress, desc="propose", unit="records").outcome
        if json:
            self.stdout.write(json_text(outcome))
            return
        self.stdout.write(
            f"{outcome['proposed']} entries proposed on {outcome['on']} "
            "(proposals wait for the owning department's decision)"
        )
        for code, c in outcome["lists"].items():
            self.stdout.write(
                f"  {code:<24} matched {c['matched']:>6}  proposed {c['proposed']:>6}  "
                f"already listed {c['already_listed']:>6}  decided before {c['decided_before']:>6}"
            )

    def _expire(self, *, on, json: bool, no_progress: bool, **_: Any) -> None:  # noqa: A002
        day = effective_day(on)  # never in the future: that would end publications early
        job = job_create(
            kind="lists_expire",
            title=f"List expiry and deadlines on {day}",
            params={"today": day.isoformat()},
        )
        Job.objects.filter(pk=job.pk).update(unit="entries")
        outcome = self._run(job, no_progress=no_progress, desc="expire", unit="entries").outcome
        if json:
            self.stdout.write(json_text(outcome))
            return
        self.stdout.write(f"{outcome['expired']} entries expired on {outcome['today']}")
        for code, n in outcome["lists"].items():
            self.stdout.write(f"  {code:<24} {n:>6}")
        self.stdout.write(f"{outcome['overdue_flagged']} decisions newly flagged overdue")

    # --- reads -------------------------------------------------------------------------------

    def _overdue(self, *, department, json: bool, **_: Any) -> None:  # noqa: A002
        rows = selectors.overdue_items(department=department)
        if json:
            self.stdout.write(json_text(rows))
            return
        if not rows:
            self.stdout.write("No decision is overdue.")
        for r in rows:
            target = f"entry {r['entry_id']}" if r["entry_id"] else f"record {r['record_id']}"
            self.stdout.write(
                f"{r['kind']:<9} {r['id']:>6}  {r['department']:<15} due {r['due_on']}  "
                f"{target:<14} {r['subject']['code']} {r['subject']['name']}"
            )

    def _entries(
        self,
        *,
        list_code,
        state,
        department,
        subject,
        limit,
        json: bool,
        **_: Any,  # noqa: A002
    ) -> None:
        from qualitycity.subjects.selectors import subject_get

        rows = selectors.entry_page(
            actor=None,
            operator=True,
            limit=limit,
            list_code=list_code,
            state=state,
            department=department,
            subject=subject_get(code=subject) if subject else None,
        )
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows["items"]:
            self.stdout.write(
                f"{r['id']:>7} {r['list']['code']:<24} {r['state']:<10} "
                f"{r['published_on'] or '-'!s:<10} → {r['publication_ends_on'] or '-'!s:<10} "
                f"{r['subject']['code']} {r['subject']['name']}"
            )
        self.stdout.write(f"{len(rows['items'])} of {rows['total']} entries")
