"""``qualitycity plan``: the action plan, its targets and tasks, registries, assessment.

::

    qualitycity plan [--json]                                 the plan in brief
    qualitycity plan import FILE [--json]                     create/update a plan (YAML/JSON)
    qualitycity plan export [--format yaml|json] [--output F] the plan as a file
    qualitycity plan targets [--on D] [--json]                every target with its current value
    qualitycity plan items TARGET [--on D] [--json]           the registry items behind a target
    qualitycity plan tasks [--department D] [--status S] [--json]
    qualitycity plan reports [--status S] [--department D] [--period P] [--json]
    qualitycity plan overdue [--on D] [--json]                flag reports not filed in time
    qualitycity plan registry load KIND FILE [--json]         load a registry file
    qualitycity plan registry [--json]                        registry kinds and counts
    qualitycity plan assess YEAR [--json]                     produce the annual assessment
    qualitycity plan notices [--generate] [--on D] [--json]   supervision notices
    qualitycity plan release [--note TEXT] [--json]           release progress to the public

Commands act as the platform operator (source ``cli`` in the change log).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.cli import date_arg, json_text
from qualitycity.core.errors import ApplicationError
from qualitycity.plan import selectors, services
from qualitycity.plan.models import Measure, ProgressReport
from qualitycity.plan.registries import KINDS


class Command(BaseCommand):
    help = "The action plan: import/export, targets, tasks, reports, registries, assessment."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--plan", help="plan code (default: the current plan)")
        sub = parser.add_subparsers(dest="action")
        p = sub.add_parser("import", help="create or update a plan from a YAML or JSON file")
        p.add_argument("file", type=Path)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("export", help="write the plan as YAML or JSON")
        p.add_argument("--format", choices=["yaml", "json"], default="yaml")
        p.add_argument("--output", type=Path, help="file to write (default: standard output)")
        p = sub.add_parser("targets", help="every target with its current value")
        p.add_argument("--on", type=date_arg, help="as of this day (default today)")
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("items", help="the registry items behind a computed target")
        p.add_argument("target")
        p.add_argument("--on", type=date_arg)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("tasks", help="the plan's measures (tasks)")
        p.add_argument("--department")
        p.add_argument("--status", choices=Measure.Status.values)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("reports", help="progress reports")
        p.add_argument("--status", choices=ProgressReport.Status.values)
        p.add_argument("--department")
        p.add_argument("--period")
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("overdue", help="flag reports not filed by their due day")
        p.add_argument("--on", type=date_arg)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("registry", help="registries: counts, or load a file")
        p.add_argument("registry_action", nargs="?", choices=["load"])
        p.add_argument("kind", nargs="?", choices=list(KINDS))
        p.add_argument("file", nargs="?", type=Path)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("assess", help="produce the annual assessment of departments")
        p.add_argument("year", type=int)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("notices", help="supervision notices (list, or --generate)")
        p.add_argument("--generate", action="store_true")
        p.add_argument("--on", type=date_arg)
        p.add_argument("--json", action="store_true")
        p = sub.add_parser("release", help="release the plan's progress to the public portal")
        p.add_argument("--note", default="")
        p.add_argument("--on", type=date_arg)
        p.add_argument("--json", action="store_true")

    def handle(self, *args: Any, action: str | None = None, **opts: Any) -> None:
        try:
            with context.acting_as(source="cli"):
                getattr(self, f"_{action or 'summary'}")(**opts)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _plan(self, opts: dict[str, Any]):
        return selectors.plan_get(opts.get("plan"))

    def _out(self, obj: Any, as_json: bool, lines: list[str]) -> None:
        if as_json:
            self.stdout.write(json_text(obj))
        else:
            for line in lines:
                self.stdout.write(line)

    # -----------------------------------------------------------------------------------------

    def _summary(self, **opts: Any) -> None:
        plan = self._plan(opts)
        data = {
            "code": plan.code,
            "title": plan.title,
            "issuing_bodies": plan.issuing_bodies,
            "starts_on": plan.starts_on,
            "ends_on": plan.ends_on,
            "measures": plan.measures.count(),
            "targets": plan.targets.count(),
            "unconfirmed_departments": plan.measures.filter(departments_confirmed=False).count(),
        }
        self._out(data, opts["json"], [f"{k}: {v}" for k, v in data.items()])

    def _import(self, *, file: Path, json: bool = False, **_: Any) -> None:  # noqa: A002
        result = services.plan_import_file(path=file)
        self._out(
            result,
            json,
            [
                f"Plan {result['plan']}: {result['measures']} measures, {result['targets']} "
                f"targets; {result['created']} created, {result['updated']} updated, "
                f"{result['unchanged']} unchanged, {result['removed']} removed."
            ],
        )

    def _export(self, *, format: str, output: Path | None, **opts: Any) -> None:  # noqa: A002
        text = services.plan_export(plan=self._plan(opts), fmt=format)
        if output:
            output.write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}")
        else:
            self.stdout.write(text, ending="")

    def _targets(self, *, on: dt.date | None = None, json: bool = False, **opts: Any) -> None:  # noqa: A002
        rows = selectors.targets_overview(self._plan(opts), on)
        lines = []
        for t in rows:
            cur = t["current"]["value"] if t["current"] else None
            goal = t["target"]["value"]
            lines.append(
                f"{t['code']:<28} {'' if cur is None else f'{cur:g}':>10} / "
                f"{'—' if goal is None else f'{goal:g}':<8} {t['unit']:<4} "
                f"{'' if t['progress_percent'] is None else str(t['progress_percent']) + '%':>8} "
                f"{t['projection']['status'] or '':<10} {t['indicator']}"
            )
        self._out(rows, json, lines)

    def _items(
        self, *, target: str, on: dt.date | None = None, json: bool = False, **opts: Any
    ) -> None:  # noqa: A002
        t = selectors.target_get(self._plan(opts), target)
        day = on or dt.date.today()
        items = [selectors.item_dict(i) for i in selectors.metric_items(t, day)]
        self._out(
            {"target": t.code, "as_of": day, "count": len(items), "items": items},
            json,
            [f"{t.code} as of {day}: {len(items)}"] + [f"  {i['label']}" for i in items],
        )

    def _tasks(
        self,
        *,
        department: str | None = None,
        status: str | None = None,
        json: bool = False,
        **opts: Any,
    ) -> None:  # noqa: A002
        plan = self._plan(opts)
        rows = [selectors.measure_dict(m) for m in _all_measures(plan, department, status)]
        self._out(
            rows,
            json,
            [
                f"{m['number']:<8} {m['status']:<12} {m['lead_department']:<15} "
                f"{'' if m['departments_confirmed'] else '(to be confirmed) '}{m['text'][:40]}"
                for m in rows
            ],
        )

    def _reports(self, *, status=None, department=None, period=None, json=False, **opts):  # noqa: A002
        plan = self._plan(opts)
        qs = selectors.report_list_operator(
            plan=plan, status=status, department=department, period=period
        )
        rows = [selectors.report_dict(r) for r in qs.prefetch_related("events")]
        self._out(
            rows,
            json,
            [
                f"{r['id']:>6} {r['period']} {r['measure']:<8} {r['department']:<15} "
                f"{r['status']:<10} {'late' if r['late'] else ''}"
                for r in rows
            ],
        )

    def _overdue(self, *, on=None, json=False, **opts):  # noqa: A002
        result = services.reports_flag_overdue(plan=self._plan(opts), on=on)
        self._out(result, json, [f"Flagged {result['flagged']} report(s) not filed in time."])

    def _registry(self, *, registry_action=None, kind=None, file=None, json=False, **_):  # noqa: A002
        if registry_action == "load":
            if not kind or not file:
                raise CommandError("usage: qualitycity plan registry load KIND FILE")
            if not file.exists():
                raise CommandError(f"no such file: {file}")
            r = services.registry_load(kind=kind, path=file)
            lines = [
                f"{r['file']} ({r['kind']}): {r['status']}"
                + (f" — {r['refusal_code']}: {r['refusal_message']}" if r["refusal_code"] else "")
                + ("; already loaded, nothing changed" if r["resubmission"] else ""),
                f"  rows {r['rows']}, accepted {r['accepted']}, updated {r['updated']}, "
                f"duplicates {r['duplicates']}, quarantined {r['rejected']}",
            ] + [f"  row {x['row']}: {x['reasons']}" for x in r["rejected_rows"][:20]]
            self._out(r, json, lines)
            if r["status"] == "refused":
                raise CommandError(f"{r['refusal_code']}: {r['refusal_message']}")
            return
        rows = selectors.registry_counts("standards") + selectors.registry_counts("brands")
        self._out(rows, json, [f"{r['kind']:<16} {r['count']:>8}  {r['label_zh']}" for r in rows])

    def _assess(self, *, year: int, json=False, **opts):  # noqa: A002
        a = services.assessment_produce(plan=self._plan(opts), year=year)
        table = selectors.assessment_table(a)
        self._out(
            {"year": a.year, "as_of": a.as_of, "scheme": a.scheme, "table": table},
            json,
            [f"{r['rank']:>3}. {r['department']:<15} {r['score']:>6.2f}" for r in table],
        )

    def _notices(self, *, generate=False, on=None, json=False, **opts):  # noqa: A002
        plan = self._plan(opts)
        made = services.notices_generate(plan=plan, on=on) if generate else None
        rows = [
            {
                "id": n.pk,
                "department": n.department.code,
                "kind": n.kind,
                "period": n.period,
                "issued_on": n.issued_on,
                "status": n.status,
                "reason": n.reason,
            }
            for n in selectors.notice_list(user=_Operator(), plan=plan)
        ]
        out = {"issued": made["issued"], "notices": rows} if made else rows
        lines = ([f"Issued {made['issued']} notice(s)."] if made else []) + [
            f"{r['issued_on']} {r['department']:<15} {r['kind']:<16} {r['status']:<8} {r['reason']}"
            for r in rows
        ]
        self._out(out, json, lines)

    def _release(self, *, note="", on=None, json=False, **opts):  # noqa: A002
        r = services.plan_release(plan=self._plan(opts), note=note, on=on)
        self._out(
            {"id": r.pk, "as_of": r.as_of, "targets": len(r.content["targets"])},
            json,
            [f"Released progress as of {r.as_of} to the public portal."],
        )


class _Operator:
    """The CLI operator reads city-wide (like the platform administrator)."""

    is_authenticated = True
    is_citywide = True
    is_superuser = True
    role = "platform_admin"
    department_id = None


def _all_measures(plan, department, status):
    return selectors.measure_list(user=_Operator(), plan=plan, department=department, status=status)
