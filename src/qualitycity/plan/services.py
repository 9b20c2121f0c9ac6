"""Writes of the plan app: import of a plan file, confirmation of responsible departments,
progress reports and their review, overdue flags, registry loads, the annual assessment,
supervision notices and public releases.

Who may do what (checked here, so every caller — view, API, command — gets the same answer):
importing a plan, confirming departments, reviewing reports, assessing, issuing notices and
releasing progress are acts of city-wide roles (scope ``plan.review``); reporting needs
``plan.report`` and, for a department officer, one of the measure's responsible departments;
registry loads need ``plan.registry``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from qualitycity.core import context
from qualitycity.core.errors import Conflict, PermissionDenied, ValidationFailed
from qualitycity.core.jobs import job_create, job_enqueue, job_kind
from qualitycity.core.models import Department, Job, User
from qualitycity.core.permissions import require_scope
from qualitycity.core.schedule import daily
from qualitycity.records.ingest.errors import FileRefused
from qualitycity.records.ingest.readers import open_table, store_copy
from qualitycity.subjects.models import Subject

from . import config, planfile, selectors
from .models import (
    Assessment,
    AssessmentScore,
    Measure,
    Plan,
    PlanRelease,
    ProgressReport,
    RegistryFile,
    RegistryRejectedRow,
    ReportEvent,
    Section,
    SupervisionNotice,
    Target,
    TargetValue,
)
from .periods import period_bounds, period_due, period_of, plan_periods
from .registries import METRICS, get_kind, validate_row

log = logging.getLogger(__name__)

Status = ProgressReport.Status
EVIDENCE_EXTENSIONS = frozenset(
    {"pdf", "ofd", "jpg", "jpeg", "png", "doc", "docx", "xls", "xlsx", "csv", "txt", "zip"}
)
EVIDENCE_MAX_FILES = 10
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024


class IllegalTransition(Conflict):
    code = "illegal_transition"


def _today() -> dt.date:
    return timezone.localdate()


def _moment(day: dt.date) -> dt.datetime:
    now = timezone.now()
    if day == timezone.localdate(now):
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def _user(actor: Any) -> User | None:
    if isinstance(actor, User) and actor.pk:
        return actor
    ctx = context.current()
    return ctx.user if isinstance(ctx.user, User) and ctx.user.pk else None


def _require_citywide(actor: Any, scope: str = "plan.review") -> None:
    if actor is None:  # the platform itself (post-migrate, demo builder, CLI as operator)
        return
    require_scope(actor, scope)
    if not getattr(actor, "is_citywide", False):
        raise PermissionDenied("This is an act of the quality office.", code="citywide_only")


# --------------------------------------------------------------------------------------------
# The plan file
# --------------------------------------------------------------------------------------------


def _department_codes() -> set[str]:
    return set(Department.objects.values_list("code", flat=True))


def plan_parse(*, text: str, name: str) -> planfile.PlanSpec:
    return planfile.parse(text, name, departments=_department_codes(), metrics=set(METRICS))


def _set(obj: Any, values: dict[str, Any]) -> bool:
    from django.db import models

    changed = False
    for k, v in values.items():
        if isinstance(v, models.Model) or v is None and k in _fk_names(obj):
            current = getattr(obj, f"{k}_id")
            if current != (v.pk if v is not None else None):
                setattr(obj, k, v)
                changed = True
        elif getattr(obj, k) != v:
            setattr(obj, k, v)
            changed = True
    return changed


def _fk_names(obj: Any) -> set[str]:
    return {f.name for f in obj._meta.concrete_fields if f.is_relation}


@transaction.atomic
def plan_import(*, text: str, name: str, actor: Any = None) -> dict[str, Any]:
    """Create or update a plan from a file (YAML or JSON); idempotent and all-or-nothing.

    Measures and targets are matched by number and code; ones missing from the file are
    removed unless reports or values refer to them (409 ``plan_in_use``). Returns counts of
    what was created, updated, removed and left unchanged.
    """
    _require_citywide(actor)
    spec = plan_parse(text=text, name=name)
    depts = {d.code: d for d in Department.objects.all()}
    counts = dict.fromkeys(("created", "updated", "unchanged", "removed"), 0)

    def tally(created: bool, changed: bool) -> None:
        counts["created" if created else "updated" if changed else "unchanged"] += 1

    p = spec.plan
    plan = Plan.objects.select_for_update().filter(code=p["code"]).first()
    created = plan is None
    plan = plan or Plan(code=p["code"])
    changed = _set(plan, {k: v for k, v in p.items() if k != "code"})
    if created or changed:
        plan.save()
    tally(created, changed)

    sections = {s.number: s for s in plan.sections.all()} if not created else {}
    for i, s in enumerate(spec.sections):
        obj = sections.get(s["number"]) or Section(plan=plan, number=s["number"])
        new = obj.pk is None
        if _set(obj, {"title": s["title"], "title_en": s["title_en"], "sort": i}) or new:
            obj.save()
        sections[s["number"]] = obj

    existing = {m.number: m for m in plan.measures.prefetch_related("cooperating_departments")}
    for i, m in enumerate(spec.measures):
        obj = existing.get(m["number"]) or Measure(plan=plan, number=m["number"])
        new = obj.pk is None
        changed = _set(
            obj,
            {
                "section": sections[m["section"]],
                "sort": i,
                "title": m["title"],
                "text": m["text"],
                "lead_department": depts[m["lead_department"]],
                "departments_confirmed": m["departments_confirmed"],
                "deliverables": m["deliverables"],
                "deadline": m["deadline"],
            },
        )
        if new or changed:
            obj.save()
        coop = {depts[c].pk for c in m["cooperating_departments"]}
        if new or set(obj.cooperating_departments.values_list("pk", flat=True)) != coop:
            obj.cooperating_departments.set(coop)
            changed = True
        tally(new, changed)
        existing[m["number"]] = obj

    measures = existing
    targets = {t.code: t for t in plan.targets.all()}
    for i, t in enumerate(spec.targets):
        obj = targets.get(t["code"]) or Target(plan=plan, code=t["code"])
        new = obj.pk is None
        values = {k: v for k, v in t.items() if k not in ("code", "department", "measure")}
        values["sort"] = i
        values["department"] = depts[t["department"]]
        values["measure"] = measures.get(t["measure"]) if t["measure"] else None
        changed = _set(obj, values)
        if new or changed:
            obj.save()
        tally(new, changed)
        targets[t["code"]] = obj

    keep_m = {m["number"] for m in spec.measures}
    keep_t = {t["code"] for t in spec.targets}
    for number, obj in measures.items():
        if number not in keep_m:
            if obj.reports.exists():
                raise Conflict(
                    f"Measure {number} has progress reports; it cannot be removed.",
                    code="plan_in_use",
                    details={"measure": number},
                )
            obj.delete()
            counts["removed"] += 1
    for code, obj in targets.items():
        if code not in keep_t:
            if obj.values.exists():
                raise Conflict(
                    f"Target {code} has values; it cannot be removed.",
                    code="plan_in_use",
                    details={"target": code},
                )
            obj.delete()
            counts["removed"] += 1
    keep_s = {s["number"] for s in spec.sections}
    for number, obj in sections.items():
        if number not in keep_s:
            obj.delete()
    return {
        "plan": plan.code,
        "measures": len(spec.measures),
        "targets": len(spec.targets),
        **counts,
    }


def plan_import_file(*, path: Path, actor: Any = None) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed(
            f"{path}:1: the file is not UTF-8 text", code="invalid_plan_file"
        ) from None
    except OSError as exc:
        raise ValidationFailed(f"{path}: {exc.strerror}", code="file_not_found") from None
    return plan_import(text=text, name=str(path), actor=actor)


def seed_plan_ensure() -> Plan | None:
    """Load the shipped seed plan unless a plan with its code exists (post-migrate)."""
    if not Department.objects.exists():
        return None
    spec = plan_parse(text=config.SEED_PLAN.read_text(encoding="utf-8"), name="seed_plan.yaml")
    plan = Plan.objects.filter(code=spec.plan["code"]).first()
    if plan is not None:
        return plan
    plan_import(text=config.SEED_PLAN.read_text(encoding="utf-8"), name="seed_plan.yaml")
    return Plan.objects.get(code=spec.plan["code"])


def plan_export(*, plan: Plan, fmt: str = "yaml") -> str:
    """The plan as a file :func:`plan_import` reads back unchanged."""
    return planfile.dump(selectors.plan_spec(plan), fmt)


@transaction.atomic
def measure_confirm_departments(
    *,
    measure: Measure,
    actor: Any,
    lead: Department | None = None,
    cooperating: Iterable[Department] | None = None,
) -> Measure:
    """The quality office confirms (and may correct) a measure's responsible departments.

    The change (lead, confirmation flag) is written to the change log like every governed
    change; the cooperating departments' change is logged as an update with their codes.
    """
    _require_citywide(actor)
    measure = Measure.objects.select_for_update().get(pk=measure.pk)
    before = sorted(measure.cooperating_departments.values_list("code", flat=True))
    if lead is not None:
        measure.lead_department = lead
    coop = list(cooperating) if cooperating is not None else None
    if coop is not None and measure.lead_department in coop:
        raise ValidationFailed(
            "The lead department cannot also be cooperating.", code="lead_is_cooperating"
        )
    measure.departments_confirmed = True
    measure.save()
    if coop is not None:
        measure.cooperating_departments.set(coop)
        after = sorted(d.code for d in coop)
        if after != before:
            from qualitycity.core.models import ObjectChange

            ObjectChange.record(
                measure,
                "update",
                {"cooperating_departments": before},
                {"cooperating_departments": after},
            )
    return measure


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def _event(report: ProgressReport, kind: str, actor: Any, comment: str = "", at=None, data=None):
    ctx = context.current()
    return ReportEvent.objects.create(
        report=report,
        kind=kind,
        at=at or timezone.now(),
        actor=_user(actor),
        source=ctx.source,
        request_id=ctx.request_id,
        comment=comment,
        data=data or {},
    )


def _report_department(actor: Any, measure: Measure, department: Department | None) -> Department:
    responsible = {measure.lead_department_id} | set(
        measure.cooperating_departments.values_list("pk", flat=True)
    )
    if actor is not None and not getattr(actor, "is_citywide", False):
        own = getattr(actor, "department", None)
        if own is None or own.pk not in responsible:
            raise PermissionDenied(
                "Your department is not responsible for this measure.",
                code="forbidden_department",
                details={"measure": measure.number},
            )
        if department is not None and department.pk != own.pk:
            raise PermissionDenied(
                "You report for your own department only.", code="forbidden_department"
            )
        return own
    department = department or measure.lead_department
    if department.pk not in responsible:
        raise ValidationFailed(
            f"{department.code} is not responsible for measure {measure.number}.",
            code="not_responsible",
        )
    return department


def keep_evidence(files: Iterable[tuple[str, Path]]) -> list[dict[str, Any]]:
    """Keep evidence files like ingestion keeps originals: ``FILES_ROOT/plan/<yyyy>/<mm>/
    <sha256>.<ext>``, with name, path, SHA-256 and size."""
    kept = []
    files = list(files)
    if len(files) > EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            f"At most {EVIDENCE_MAX_FILES} evidence files.", code="too_many_files"
        )
    root = Path(settings.FILES_ROOT) / "plan"
    for name, path in files:
        ext = os.path.splitext(name)[1].lower().lstrip(".")
        if ext not in EVIDENCE_EXTENSIONS:
            raise ValidationFailed(
                f"Evidence of type .{ext} is not accepted "
                f"({', '.join(sorted(EVIDENCE_EXTENSIONS))}).",
                code="evidence_type",
                details={"file": name},
            )
        if Path(path).stat().st_size > EVIDENCE_MAX_BYTES:
            raise ValidationFailed(f"{name} is larger than 20 MB.", code="evidence_too_large")
        scan, rel = store_copy(Path(path), root, when=timezone.localtime(), name=name)
        kept.append(
            {"name": name[:200], "path": f"plan/{rel}", "sha256": scan.sha256, "size": scan.size}
        )
    return kept


def _check_values(values: dict[str, Any], department: Department, plan: Plan) -> dict[str, float]:
    if not values:
        return {}
    targets = {t.code: t for t in plan.targets.filter(code__in=list(values))}
    out, problems = {}, {}
    for code, raw in values.items():
        t = targets.get(code)
        if t is None:
            problems[code] = "unknown target"
        elif t.obtained != Target.Obtained.REPORTED:
            problems[code] = "computed by the platform from its registry; not reported"
        elif t.department_id != department.pk:
            problems[code] = f"reported by {t.department.code}, not {department.code}"
        else:
            try:
                if raw is None or raw == "" or isinstance(raw, bool):
                    raise ValueError
                out[code] = float(raw)
            except (TypeError, ValueError):
                problems[code] = f"not a number: {raw!r}"
    if problems:
        raise ValidationFailed(
            "Some target values cannot be reported: "
            + "; ".join(f"{k}: {v}" for k, v in problems.items()),
            code="invalid_values",
            details=problems,
        )
    return out


@transaction.atomic
def report_submit(
    *,
    actor: Any,
    measure: Measure,
    period: str,
    task_status: str,
    narrative: str,
    values: dict[str, Any] | None = None,
    evidence: Iterable[tuple[str, Path]] = (),
    department: Department | None = None,
    on: dt.date | None = None,
) -> ProgressReport:
    """File (or, after a return, refile) a department's report on a measure for a quarter.

    ``on`` records a report filed on an earlier day (history migrated in). A report first filed
    after its due day is marked late; a report flagged as overdue becomes a late submission.
    """
    if actor is not None:
        require_scope(actor, "plan.report")
    department = _report_department(actor, measure, department)
    start, end = period_bounds(period)
    day = on or _today()
    if day > _today():
        raise ValidationFailed(f"{day} is in the future.", code="date_in_future")
    plan = measure.plan
    if end < plan.starts_on or start > plan.ends_on:
        raise ValidationFailed(
            f"{period} is outside the plan ({plan.starts_on} – {plan.ends_on}).",
            code="period_outside_plan",
        )
    if start > day:
        raise ValidationFailed(f"{period} has not started yet.", code="period_not_started")
    if task_status not in Measure.Status.values:
        raise ValidationFailed(
            f"task_status must be one of {', '.join(Measure.Status.values)}.",
            code="invalid_task_status",
        )
    narrative = (narrative or "").strip()
    if not narrative:
        raise ValidationFailed("A narrative is required.", code="narrative_required")
    checked = _check_values(values or {}, department, plan)
    kept = keep_evidence(evidence)
    report = (
        ProgressReport.objects.select_for_update()
        .filter(measure=measure, department=department, period=period)
        .first()
    )
    at = _moment(day)
    if report is None:
        report = ProgressReport(
            measure=measure,
            department=department,
            period=period,
            period_start=start,
            period_end=end,
            due_on=period_due(period),
        )
        kind = ReportEvent.Kind.SUBMITTED
    elif report.status == Status.OVERDUE:
        kind = ReportEvent.Kind.SUBMITTED
    elif report.status == Status.RETURNED:
        kind = ReportEvent.Kind.RESUBMITTED
    else:
        raise IllegalTransition(
            f"The report for {period} is {report.status}; it can be refiled only after a return.",
            details={"status": report.status, "report": report.pk},
        )
    if kind == ReportEvent.Kind.SUBMITTED:
        report.late = day > report.due_on
    report.status = Status.SUBMITTED
    report.task_status = task_status
    report.narrative = narrative
    report.values = checked
    if kept or kind == ReportEvent.Kind.SUBMITTED:
        report.evidence = (report.evidence or []) + kept
    report.submitted_at = at
    report.submitted_by = _user(actor)
    report.save()
    _event(
        report, kind, actor, at=at, data={"values": checked, "evidence": [k["name"] for k in kept]}
    )
    return report


@transaction.atomic
def report_add_evidence(
    *, report: ProgressReport, actor: Any, evidence: Iterable[tuple[str, Path]]
) -> ProgressReport:
    """Add evidence files to a report of the actor's department that is not yet decided
    (submitted or returned); an accepted report is final."""
    if actor is not None:
        require_scope(actor, "plan.report")
        if not actor.is_citywide and getattr(actor, "department_id", None) != report.department_id:
            raise PermissionDenied(
                "This report is another department's.", code="forbidden_department"
            )
    report = ProgressReport.objects.select_for_update().get(pk=report.pk)
    if report.status not in (Status.SUBMITTED, Status.RETURNED):
        raise IllegalTransition(
            "Evidence can be added to a submitted or returned report; "
            f"this one is {report.status}.",
            details={"status": report.status},
        )
    kept = keep_evidence(evidence)
    if len(report.evidence) + len(kept) > EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            f"At most {EVIDENCE_MAX_FILES} evidence files.", code="too_many_files"
        )
    report.evidence = report.evidence + kept
    report.save()
    return report


def _reviewable(report: ProgressReport, actor: Any) -> ProgressReport:
    _require_citywide(actor)
    report = ProgressReport.objects.select_for_update().get(pk=report.pk)
    if report.status != Status.SUBMITTED:
        raise IllegalTransition(
            f"Only a submitted report can be reviewed; this one is {report.status}.",
            details={"status": report.status},
        )
    return report


@transaction.atomic
def report_return(
    *, report: ProgressReport, actor: Any, comment: str, on: dt.date | None = None
) -> ProgressReport:
    """Return a submitted report to its department with comments (required)."""
    report = _reviewable(report, actor)
    comment = (comment or "").strip()
    if not comment:
        raise ValidationFailed("Comments are required to return a report.", code="comment_required")
    at = _moment(on or _today())
    report.status = Status.RETURNED
    report.review_comment = comment
    report.reviewed_at = at
    report.reviewed_by = _user(actor)
    report.save()
    _event(report, ReportEvent.Kind.RETURNED, actor, comment=comment, at=at)
    return report


@transaction.atomic
def report_accept(
    *, report: ProgressReport, actor: Any, comment: str = "", on: dt.date | None = None
) -> ProgressReport:
    """Accept a report: its target values join the series, and the lead department's latest
    accepted report sets the measure's status."""
    report = _reviewable(report, actor)
    at = _moment(on or _today())
    report.status = Status.ACCEPTED
    report.review_comment = (comment or "").strip()
    report.reviewed_at = at
    report.reviewed_by = _user(actor)
    report.save()
    for code, value in (report.values or {}).items():
        target = report.measure.plan.targets.get(code=code)
        TargetValue.objects.update_or_create(
            target=target,
            on=report.period_end,
            source=TargetValue.Source.REPORTED,
            defaults={"value": value, "report": report},
        )
    measure = report.measure
    if report.department_id == measure.lead_department_id:
        latest = (
            measure.reports.filter(department_id=measure.lead_department_id, status=Status.ACCEPTED)
            .order_by("-period_end")
            .first()
        )
        if latest is not None and latest.task_status and measure.status != latest.task_status:
            measure.status = latest.task_status
            measure.save()
    _event(report, ReportEvent.Kind.ACCEPTED, actor, comment=report.review_comment, at=at)
    return report


@transaction.atomic
def reports_flag_overdue(*, plan: Plan, on: dt.date | None = None) -> dict[str, int]:
    """Flag every lead department's report not filed by its due day (idempotent).

    Cooperating departments may report too, but only the lead department owes a report each
    quarter. A flagged report stays visible as overdue until filed (then it is marked late).
    """
    on = on or _today()
    flagged = 0
    measures = list(plan.measures.select_related("lead_department"))
    existing = set(
        ProgressReport.objects.filter(measure__plan=plan).values_list(
            "measure_id", "department_id", "period"
        )
    )
    for period in plan_periods(plan, until=on):
        due = period_due(period)
        if due >= on:
            continue
        start, end = period_bounds(period)
        for m in measures:
            if (m.pk, m.lead_department_id, period) in existing:
                continue
            report = ProgressReport.objects.create(
                measure=m,
                department=m.lead_department,
                period=period,
                period_start=start,
                period_end=end,
                due_on=due,
                status=Status.OVERDUE,
                overdue_flagged_at=_moment(min(on, _today())),
            )
            _event(
                report,
                ReportEvent.Kind.FLAGGED_OVERDUE,
                None,
                at=report.overdue_flagged_at,
                data={"due_on": due.isoformat()},
            )
            flagged += 1
    return {"flagged": flagged}


# --------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------


def _subject_lookup(codes: list[str]) -> dict[str, int]:
    return dict(Subject.objects.filter(code__in=codes).values_list("code", "pk"))


def _comparable(obj: Any, fields: dict[str, Any]) -> dict[str, Any]:
    return {k: getattr(obj, k) for k in fields}


def registry_load(
    *, kind: str, path: Path, name: str | None = None, actor: Any = None
) -> dict[str, Any]:
    """Load a registry file (CSV UTF-8/GB18030, XLSX, JSON Lines) with the record readers.

    The original is kept with its SHA-256; a file already loaded changes nothing (its earlier
    result is returned). Rows that fail validation are quarantined with a reason per field;
    the others are inserted, updated (same key, other values) or counted as duplicates. One
    transaction: a refused file leaves no item behind.
    """
    if actor is not None:
        require_scope(actor, "plan.registry")
    k = get_kind(kind)
    path = Path(path)
    name = name or path.name
    root = Path(settings.FILES_ROOT)
    scan, rel = store_copy(path, root, when=timezone.localtime(), name=name)
    earlier = RegistryFile.objects.filter(kind=k.code, sha256=scan.sha256).first()
    if earlier is not None:
        return {**selectors.registry_file_dict(earlier), "resubmission": True}
    header_index = k.header_index()
    with transaction.atomic():
        rf = RegistryFile.objects.create(
            kind=k.code,
            sha256=scan.sha256,
            original_name=name[:255],
            stored_path=rel,
            size=scan.size,
            status=RegistryFile.Status.PROCESSED,
            uploaded_by=_user(actor),
        )
        table = None
        try:
            table = open_table(root / rel, name=name, scan=scan)
            rf.file_format, rf.encoding = table.format, table.encoding
            mapping = [header_index.get(_norm(h)) for h in table.header]
            unknown = [h for h, m in zip(table.header, mapping, strict=True) if m is None]
            missing = (
                [c.name for c in k.columns if c.required and c.name not in mapping]
                if table.format != "jsonl"
                else []
            )
            if unknown or missing:
                raise FileRefused(
                    "wrong_header",
                    "The header does not match the registry: "
                    + "; ".join(
                        ([f"missing {', '.join(missing)}"] if missing else [])
                        + ([f"unknown {', '.join(map(str, unknown))}"] if unknown else [])
                    ),
                    details={"missing": missing, "unknown": unknown},
                )
            _load_rows(k, rf, table, mapping, header_index)
            if rf.rows == 0:
                raise FileRefused("empty_file", "The file has a header but no rows.")
        except FileRefused as refusal:
            transaction.set_rollback(True)
            refused = {
                "kind": k.code,
                "sha256": scan.sha256,
                "original_name": name[:255],
                "stored_path": rel,
                "size": scan.size,
                "status": RegistryFile.Status.REFUSED,
                "refusal_code": refusal.code,
                "refusal_message": refusal.message,
            }
        else:
            refused = None
            rf.save()
        finally:
            if table is not None:
                table.close()
    if refused is not None:
        # The refusal itself is kept (outside the rolled-back transaction), so the same file
        # sent again gets the same answer.
        rf = RegistryFile.objects.create(uploaded_by=_user(actor), **refused)
    return {**selectors.registry_file_dict(rf), "resubmission": False}


def _norm(h: Any) -> str:
    from qualitycity.records.catalogue import normalize_header

    return normalize_header(h)


def _load_rows(k, rf: RegistryFile, table, mapping, header_index) -> None:
    model = k.model
    for number, cells, extra in table.rows():
        if extra and "_malformed" in extra:
            rf.rows += 1
            rf.rejected += 1
            RegistryRejectedRow.objects.create(
                file=rf,
                row_number=number,
                data={"line": extra["_malformed"].text},
                reasons={"_row": f"not a JSON object: {extra['_malformed'].error}"},
            )
            continue
        raw: dict[str, Any] = {}
        for col, value in zip(mapping, cells, strict=False):
            if col:
                raw[col] = value
        for key, value in (extra or {}).items():
            col = header_index.get(_norm(key))
            if col:
                raw[col] = value
            else:
                raw.setdefault("_unknown", []).append(key)
        rf.rows += 1
        unknown = raw.pop("_unknown", None)
        fields, subject_ids, reasons = validate_row(k, raw, _subject_lookup)
        if unknown:
            reasons["_row"] = f"unknown keys: {', '.join(unknown)}"
        if reasons:
            rf.rejected += 1
            RegistryRejectedRow.objects.create(
                file=rf,
                row_number=number,
                data={c: ("" if v is None else str(v)) for c, v in raw.items()},
                reasons=reasons,
            )
            continue
        key = fields[k.key]
        obj = model.objects.filter(**{k.key: key}).first()
        if obj is None:
            obj = model(**fields, source_file=rf, row_number=number)
            obj.save()
            obj.subjects.set(subject_ids)
            rf.accepted += 1
            continue
        same = _comparable(obj, fields) == fields and set(
            obj.subjects.values_list("pk", flat=True)
        ) == set(subject_ids)
        if same:
            rf.duplicates += 1
            continue
        _set(obj, fields)
        obj.source_file, obj.row_number = rf, number
        obj.save()
        obj.subjects.set(subject_ids)
        rf.updated += 1


# --------------------------------------------------------------------------------------------
# Assessment and notices
# --------------------------------------------------------------------------------------------


@transaction.atomic
def assessment_produce(
    *, plan: Plan, year: int, actor: Any = None, as_of: dt.date | None = None
) -> Assessment:
    """Score every responsible department, and every district (``district_metrics``), for
    ``year`` under the configured scheme.

    Re-running replaces the year's table (the scheme or the reports may have changed); each
    score keeps its components with the inputs behind them (``AssessmentScore.components``).
    """
    _require_citywide(actor)
    scheme = config.assessment_scheme()
    as_of = as_of or min(dt.date(year, 12, 31), _today())
    rows = selectors.assessment_compute(plan=plan, year=year, as_of=as_of, scheme=scheme)
    assessment, _ = Assessment.objects.update_or_create(
        plan=plan,
        year=year,
        defaults={"as_of": as_of, "scheme": scheme, "produced_by": _user(actor)},
    )
    districts = selectors.district_assessment_compute(
        plan=plan, year=year, as_of=as_of, scheme=scheme
    )
    assessment.scores.all().delete()
    AssessmentScore.objects.bulk_create(
        [
            AssessmentScore(
                assessment=assessment,
                department_id=r["department_id"],
                rank=r["rank"],
                score=r["score"],
                components=r["components"],
            )
            for r in rows
        ]
        + [
            AssessmentScore(
                assessment=assessment,
                unit_kind="district",
                district=r["district"],
                rank=r["rank"],
                score=r["score"],
                components=r["components"],
            )
            for r in districts
        ]
    )
    return assessment


@job_kind("plan_daily")
def _daily_job(job: Job, progress: Any) -> dict[str, Any]:
    day = dt.date.fromisoformat(job.params["today"])
    return {
        plan.code: reports_flag_overdue(plan=plan, on=day) for plan in Plan.objects.order_by("code")
    }


@daily("plan_daily", "flag progress reports not filed by their due day")
def _start_daily(day: dt.date) -> Job:
    job = job_create(
        kind="plan_daily",
        title=f"Overdue progress reports on {day}",
        params={"today": day.isoformat()},
    )
    return job_enqueue(job)


@transaction.atomic
def notices_generate(*, plan: Plan, actor: Any = None, on: dt.date | None = None) -> dict[str, int]:
    """Issue supervision notices for lagging tasks, off-track targets and unfiled reports.

    Idempotent: each finding (kind, measure or target, period) gives one notice per department.
    """
    _require_citywide(actor)
    on = on or _today()
    period = period_of(on)
    made = 0
    for f in selectors.lagging_findings(plan=plan, on=on):
        finding = f"{f['kind']}:{f['ref']}:{period}"
        _, created = SupervisionNotice.objects.get_or_create(
            plan=plan,
            department_id=f["department_id"],
            finding=finding,
            defaults={
                "kind": f["kind"],
                "measure_id": f.get("measure_id"),
                "target_id": f.get("target_id"),
                "period": period,
                "issued_on": on,
                "reason": f["reason"],
                "evidence": f["evidence"],
            },
        )
        made += created
    return {"issued": made}


@transaction.atomic
def notice_respond(*, notice: SupervisionNotice, actor: Any, response: str) -> SupervisionNotice:
    """The department answers a notice (its own department's only)."""
    require_scope(actor, "plan.report")
    if not actor.is_citywide and getattr(actor, "department_id", None) != notice.department_id:
        raise PermissionDenied(
            "This notice is for another department.", code="forbidden_department"
        )
    response = (response or "").strip()
    if not response:
        raise ValidationFailed("A response is required.", code="response_required")
    notice.response = response
    notice.status = SupervisionNotice.Status.ANSWERED
    notice.save()
    return notice


@transaction.atomic
def notice_close(*, notice: SupervisionNotice, actor: Any) -> SupervisionNotice:
    _require_citywide(actor)
    notice.status = SupervisionNotice.Status.CLOSED
    notice.save()
    return notice


@transaction.atomic
def plan_release(
    *, plan: Plan, actor: Any = None, note: str = "", on: dt.date | None = None
) -> PlanRelease:
    """Release the plan's progress to the public: a snapshot the portal shows as it was."""
    _require_citywide(actor)
    as_of = on or _today()
    return PlanRelease.objects.create(
        plan=plan,
        as_of=as_of,
        released_by=_user(actor),
        note=(note or "").strip(),
        content=selectors.public_snapshot(plan=plan, as_of=as_of),
    )


def target_baseline_set(*, target: Target, actor: Any, value: float, year: int) -> Target:
    """Record a target's baseline (the seed leaves unknown baselines empty)."""
    _require_citywide(actor)
    target.baseline_value, target.baseline_year = float(value), int(year)
    target.save()
    return target
