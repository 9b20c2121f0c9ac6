"""``qualitycity inspections``: "double random, one public" plans from the command line.

::

    qualitycity inspections list [--json]                 the plans and their current draws
    qualitycity inspections show PLAN [--tasks N] [--json] a plan, its draws and tasks
    qualitycity inspections draw PLAN [--reason TEXT] [--json]
    qualitycity inspections verify PLAN [--draw N] [--json]
    qualitycity inspections overdue [--json]              flag results not published in time
    qualitycity inspections inspectors [--department D] [--json]       the inspector pool
    qualitycity inspections inspector-add BADGE --name N --department D
                         [--qualification Q]... [--district X] [--user USERNAME]
    qualitycity inspections conflict BADGE SUBJECT_CODE --reason TEXT  a declared conflict

``verify`` re-runs a stored draw from its seed, parameters and pool snapshots: exit 0 when it
is reproduced exactly, 3 when a pool snapshot does not match its published digest, 4 when the
stored draw differs from the re-run (the message names the task and inspectors).
Natural persons are masked in the output.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from qualitycity.core import context
from qualitycity.core.cli import json_text
from qualitycity.core.errors import ApplicationError
from qualitycity.supervision import selectors, services
from qualitycity.supervision.models import InspectionPlan

EXIT_DIGEST = 3
EXIT_DRAW = 4


class Command(BaseCommand):
    help = "Inspection plans: list, show, draw and verify draws; flag late publication."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="the plans and their current draws")
        ls.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="one plan with its draws and tasks")
        show.add_argument("plan", type=int)
        show.add_argument("--tasks", type=int, default=50, help="tasks to print (default 50)")
        show.add_argument("--json", action="store_true")
        draw = sub.add_parser("draw", help="draw a plan (again: --reason)")
        draw.add_argument("plan", type=int)
        draw.add_argument("--reason", default="")
        draw.add_argument("--json", action="store_true")
        verify = sub.add_parser("verify", help="re-run a draw and compare")
        verify.add_argument("plan", type=int)
        verify.add_argument("--draw", type=int, help="the draw number (default: the current)")
        verify.add_argument("--json", action="store_true")
        overdue = sub.add_parser("overdue", help="flag results not published in time")
        overdue.add_argument("--json", action="store_true")
        ins = sub.add_parser("inspectors", help="the inspector pool")
        ins.add_argument("--department")
        ins.add_argument("--json", action="store_true")
        add = sub.add_parser("inspector-add", help="add an inspector to the pool")
        add.add_argument("badge")
        add.add_argument("--name", required=True)
        add.add_argument("--department", required=True)
        add.add_argument("--qualification", action="append", dest="qualifications", default=[])
        add.add_argument("--district", default="")
        add.add_argument("--user", help="the username of the inspector's login (role inspector)")
        add.add_argument("--json", action="store_true")
        conflict = sub.add_parser("conflict", help="declare an inspector's conflict of interest")
        conflict.add_argument("badge")
        conflict.add_argument("subject", help="the subject's code")
        conflict.add_argument("--reason", required=True)

    def handle(self, *args: Any, action: str, **opts: Any) -> None:
        try:
            with context.acting_as(source="cli"):
                getattr(self, f"_{action.replace('-', '_')}")(**opts)
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _plan(self, pk: int) -> InspectionPlan:
        return selectors.plan_get(actor=None, pk=pk)

    def _list(self, *, json: bool, **_: Any) -> None:  # noqa: A002
        rows = selectors.plan_rows(actor=None)
        if json:
            self.stdout.write(json_text(rows))
            return
        if not rows:
            self.stdout.write("No inspection plan.")
            return
        self.stdout.write(
            f"{'id':>5}  {'status':<7} {'depts':<24} {'draw':>4} {'pool':>9} {'tasks':>7} "
            f"{'unstaffed':>9} {'results':>7}  name"
        )
        for r in rows:
            d = r["current_draw"] or {}
            depts = ",".join(i["department"] for i in r["items"])
            self.stdout.write(
                f"{r['id']:>5}  {r['status']:<7} {depts:<24} {d.get('number', '-')!s:>4} "
                f"{d.get('pool_size', '-')!s:>9} {d.get('task_count', '-')!s:>7} "
                f"{len(d.get('unstaffed', [])) if d else '-'!s:>9} {r['results']:>7}  {r['name']}"
            )

    def _show(self, *, plan: int, tasks: int, json: bool, **_: Any) -> None:  # noqa: A002
        p = self._plan(plan)
        data = selectors.plan_dict(p, draws=True)
        data["tasks"] = [
            selectors.task_dict(t, masked=True) for t in selectors.tasks(plan=p)[:tasks]
        ]
        if json:
            self.stdout.write(json_text(data))
            return
        w = self.stdout.write
        w(f"Plan {p.pk}: {p.name} ({p.status}{', joint' if data['joint'] else ''})")
        for i in data["items"]:
            q = f" [{i['qualification']}]" if i["qualification"] else ""
            w(f"  {i['department']}: {i['matter']}{q}")
        w(
            f"  ratios: {data['ratios']}  default class {p.default_class}  "
            f"min inspectors {p.min_inspectors}  avoid home district {p.avoid_home_district}"
        )
        for d in data["draws"]:
            w(
                f"  draw {d['number']} at {d['drawn_at']:%Y-%m-%d %H:%M} seed {d['seed']} "
                f"pool {d['pool_size']} tasks {d['task_count']} unstaffed {len(d['unstaffed'])}"
                + (f" — reason: {d['reason']}" if d["reason"] else "")
            )
            w(f"    subject pool sha256 {d['subjects_digest']}")
            w(f"    inspector pool sha256 {d['inspectors_digest']}")
        for t in data["tasks"]:
            who = ", ".join(f"{i['badge_no']}({i['department']})" for i in t["inspectors"])
            w(
                f"  #{t['number']:<5} {t['subject']['code']} {t['risk_class']} {t['status']:<9} "
                f"{who or t['unstaffed_reason']}  {t['subject']['name']}"
            )

    def _draw(self, *, plan: int, reason: str, json: bool, **_: Any) -> None:  # noqa: A002
        attempt = services.plan_draw(plan=self._plan(plan), actor=None, reason=reason)
        data = selectors.draw_dict(attempt)
        if json:
            self.stdout.write(json_text(data))
            return
        self.stdout.write(
            f"Plan {plan} drawn (draw {attempt.number}): {attempt.task_count} tasks from a pool of "
            f"{attempt.pool_size}, {len(attempt.unstaffed)} cannot be staffed; seed {attempt.seed}."
        )
        for u in attempt.unstaffed[:20]:
            self.stdout.write(f"  task {u['task']}: {u['reason']}")

    def _verify(self, *, plan: int, draw: int | None, json: bool, **_: Any) -> None:  # noqa: A002
        attempt = selectors.draw_get(plan=self._plan(plan), number=draw)
        v = services.draw_verify(attempt=attempt)
        if json:
            self.stdout.write(json_text(v.as_dict()))
        elif v.ok:
            self.stdout.write(
                f"Plan {plan}, draw {attempt.number}: reproduced exactly ({v.tasks} tasks; "
                f"seed {attempt.seed}; subject pool {attempt.subjects_digest[:16]}…, "
                f"inspector pool {attempt.inspectors_digest[:16]}…)."
            )
        if v.ok:
            return
        digest = any(
            p["kind"].endswith("_digest") or p["kind"] == "snapshot_unreadable" for p in v.problems
        )
        message = "; ".join(p["message"] for p in v.problems[:5])
        raise CommandError(
            f"Plan {plan}, draw {attempt.number} NOT reproduced: {message}",
            returncode=EXIT_DIGEST if digest else EXIT_DRAW,
        )

    def _overdue(self, *, json: bool, **_: Any) -> None:  # noqa: A002
        flagged = services.results_flag_overdue()
        rows = [
            {
                "plan": r.task.plan_id,
                "task": r.task.number,
                "department": r.department.code,
                "inspected_on": r.inspected_on,
                "publish_due": r.publish_due,
                "published_on": r.published_on,
            }
            for r in selectors.overdue_results(actor=None)
        ]
        if json:
            self.stdout.write(json_text({"flagged": flagged, "late": rows}))
            return
        self.stdout.write(f"{flagged} result(s) newly flagged; {len(rows)} late in all.")
        for r in rows:
            self.stdout.write(
                f"  plan {r['plan']} task {r['task']} {r['department']}: inspected "
                f"{r['inspected_on']}, due {r['publish_due']}, published {r['published_on'] or '—'}"
            )

    def _inspector_row(self, i: Any) -> dict[str, Any]:
        return {
            "badge_no": i.badge_no,
            "name": i.name,
            "department": i.department.code,
            "qualifications": i.qualifications,
            "district": i.district,
            "active": i.active,
            "user": i.user.username if i.user_id else None,
            "conflicts": i.conflicts.count(),
        }

    def _inspectors(self, *, department: str | None, json: bool, **_: Any) -> None:  # noqa: A002
        qs = selectors.inspectors(actor=None)
        if department:
            qs = qs.filter(department__code=department)
        rows = [self._inspector_row(i) for i in qs]
        if json:
            self.stdout.write(json_text(rows))
            return
        for r in rows:
            self.stdout.write(
                f"{r['badge_no']:<14} {r['department']:<12} {r['district'] or '-':<7} "
                f"{','.join(r['qualifications']) or '-':<20} {r['user'] or '':<12} {r['name']}"
            )
        self.stdout.write(f"{len(rows)} inspector(s).")

    def _inspector_add(self, **opts: Any) -> None:
        from qualitycity.core.models import User
        from qualitycity.core.services import department_get

        dept = department_get(code=opts["department"])
        user = None
        if opts["user"]:
            user = User.objects.filter(username=opts["user"]).first()
            if user is None:
                raise CommandError(f"unknown_user: {opts['user']}")
        i = services.inspector_create(
            actor=None,
            badge_no=opts["badge"],
            name=opts["name"],
            department=dept,
            qualifications=opts["qualifications"],
            district=opts["district"],
            user=user,
        )
        if opts["json"]:
            self.stdout.write(json_text(self._inspector_row(i)))
        else:
            self.stdout.write(f"Inspector {i.badge_no} ({i.name}, {dept.code}) added.")

    def _conflict(self, *, badge: str, subject: str, reason: str, **_: Any) -> None:
        from qualitycity.subjects.selectors import subject_get
        from qualitycity.supervision.models import Inspector

        inspector = Inspector.objects.filter(badge_no=badge).first()
        if inspector is None:
            raise CommandError(f"unknown_inspector: {badge}")
        s = subject_get(code=subject)
        services.conflict_declare(actor=None, inspector=inspector, subject=s, reason=reason)
        self.stdout.write(f"Inspector {badge} will never be drawn for {s.code}.")
