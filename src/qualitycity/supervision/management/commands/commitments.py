"""``qualitycity commitments``: credit commitment templates, signed commitments, breaks.

::

    qualitycity commitments templates [--json]
    qualitycity commitments list [--status S] [--json]
    qualitycity commitments check [--json]     mark commitments broken by later negative records
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.cli import json_text
from qualitycity.core.errors import ApplicationError
from qualitycity.supervision import selectors, services
from qualitycity.supervision.models import Commitment


class Command(BaseCommand):
    help = "Credit commitments: templates, signed commitments, finding broken ones."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        t = sub.add_parser("templates")
        t.add_argument("--json", action="store_true")
        ls = sub.add_parser("list")
        ls.add_argument("--status", choices=Commitment.Status.values)
        ls.add_argument("--json", action="store_true")
        check = sub.add_parser("check")
        check.add_argument("--json", action="store_true")

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        try:
            with context.acting_as(source="cli"):
                getattr(self, f"_{action}")(**opts)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _templates(self, *, json: bool, **_: Any) -> None:  # noqa: A002
        rows = [
            {
                "code": t.code,
                "name_zh": t.name_zh,
                "name_en": t.name_en,
                "business_type": t.business_type,
                "department": t.department,
                "period_months": t.period_months,
                "scope": list(t.scope),
            }
            for t in services.commitment_templates().values()
        ]
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            self.stdout.write(
                f"{r['code']:<22} {r['department']:<14} {r['period_months']:>3} months  "
                f"{r['name_zh']}  scope: {', '.join(r['scope'])}"
            )

    def _list(self, *, status: str | None, json: bool, **_: Any) -> None:  # noqa: A002
        qs = selectors.commitments(actor=None)
        if status:
            qs = qs.filter(status=status)
        rows = [
            {
                "number": c.number,
                "template": c.template,
                "subject": c.subject.code if c.subject.kind == "legal" else "(person)",
                "subject_name": str(c.subject),
                "signed_on": c.signed_on,
                "valid_until": c.valid_until,
                "status": c.status,
                "broken_on": c.broken_on,
            }
            for c in qs
        ]
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            self.stdout.write(
                f"{r['number']:<22} {r['template']:<20} {r['subject']:<18} {r['status']:<8} "
                f"{r['signed_on']} – {r['valid_until']}  {r['subject_name']}"
            )

    def _check(self, *, json: bool, **_: Any) -> None:  # noqa: A002
        out = services.commitments_check()
        if json:
            self.stdout.write(json_text(out))
            return
        self.stdout.write(f"{out['broken']} commitment(s) broken, {out['ended']} ended.")
