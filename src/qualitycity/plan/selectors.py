"""Reads of the plan app: scoping rules, target status (series, progress, projection), the
items behind computed targets, task and report listings, the assessment computation and the
findings that produce supervision notices, and the public snapshot of progress.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from qualitycity.core.errors import NotFound
from qualitycity.core.models import Department

from . import config, progress
from .models import (
    Assessment,
    Measure,
    Plan,
    PlanRelease,
    ProgressReport,
    RegistryFile,
    SupervisionNotice,
    Target,
)
from .periods import period_bounds, period_due, plan_periods
from .planfile import PlanSpec
from .registries import KINDS, METRICS


def _today() -> dt.date:
    return timezone.localdate()


# --------------------------------------------------------------------------------------------
# Scoping
# --------------------------------------------------------------------------------------------


def restrict_by_department(qs: QuerySet, user: Any, field: str) -> QuerySet:
    """City-wide roles see all; a department's officers and API clients their department's."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if getattr(user, "is_citywide", False):
        return qs
    dept = getattr(user, "department_id", None)
    if dept:
        return qs.filter(**{field: dept})
    return qs.none()


def restrict_measures(qs: QuerySet, user: Any, action: str) -> QuerySet:
    """Every member of staff reads the plan's measures; reporting on one ("report") is for its
    responsible departments; changing one for city-wide roles."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if getattr(user, "is_citywide", False):
        return qs
    if action == "view":
        return qs
    dept = getattr(user, "department_id", None)
    if action == "report" and dept:
        return qs.filter(Q(lead_department_id=dept) | Q(cooperating_departments=dept)).distinct()
    return qs.none()


# --------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------


def current_plan() -> Plan:
    plan = Plan.objects.order_by("-starts_on", "code").first()
    if plan is None:
        raise NotFound("No plan is loaded.", code="no_plan")
    return plan


def plan_get(code: str | None = None) -> Plan:
    if not code:
        return current_plan()
    plan = Plan.objects.filter(code=code).first()
    if plan is None:
        raise NotFound(f"No plan {code!r}.", code="no_plan")
    return plan


def plan_spec(plan: Plan) -> PlanSpec:
    measures = plan.measures.select_related("section", "lead_department").prefetch_related(
        "cooperating_departments"
    )
    return PlanSpec(
        plan={
            "code": plan.code,
            "title": plan.title,
            "title_en": plan.title_en,
            "issuing_bodies": plan.issuing_bodies,
            "document_date": plan.document_date,
            "published_on": plan.published_on,
            "source_document": plan.source_document,
            "starts_on": plan.starts_on,
            "ends_on": plan.ends_on,
            "report_frequency": plan.report_frequency,
        },
        sections=[
            {"number": s.number, "title": s.title, "title_en": s.title_en}
            for s in plan.sections.all()
        ],
        measures=[
            {
                "number": m.number,
                "section": m.section.number,
                "title": m.title,
                "text": m.text,
                "lead_department": m.lead_department.code,
                "cooperating_departments": [
                    d.code for d in sorted(m.cooperating_departments.all(), key=lambda d: d.sort)
                ],
                "departments_confirmed": m.departments_confirmed,
                "deliverables": m.deliverables,
                "deadline": m.deadline,
            }
            for m in measures
        ],
        targets=[
            {
                "code": t.code,
                "indicator": t.indicator,
                "indicator_en": t.indicator_en,
                "unit": t.unit,
                "direction": t.direction,
                "baseline_value": t.baseline_value,
                "baseline_year": t.baseline_year,
                "target_value": t.target_value,
                "target_year": t.target_year,
                "per_year": t.per_year,
                "source_section": t.source_section,
                "obtained": t.obtained,
                "metric": t.metric,
                "department": t.department.code,
                "measure": t.measure.number if t.measure_id else None,
                "note": t.note,
            }
            for t in plan.targets.select_related("department", "measure")
        ],
    )


def measure_get(*, user: Any, plan: Plan, number: str, action: str = "view") -> Measure:
    m = Measure.objects.restrict(user, action).filter(plan=plan, number=number).first()
    if m is None:
        raise NotFound(f"No measure {number} you may {action}.", code="measure_not_found")
    return m


def measure_list(
    *, user: Any, plan: Plan, department: str | None = None, status: str | None = None
):
    qs = (
        Measure.objects.restrict(user, "view")
        .filter(plan=plan)
        .select_related("section", "lead_department")
        .prefetch_related("cooperating_departments")
    )
    if department:
        qs = qs.filter(
            Q(lead_department__code=department) | Q(cooperating_departments__code=department)
        ).distinct()
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("sort")


def measure_dict(m: Measure) -> dict[str, Any]:
    return {
        "number": m.number,
        "section": m.section.number,
        "title": m.title,
        "text": m.text,
        "lead_department": m.lead_department.code,
        "cooperating_departments": [d.code for d in m.cooperating_departments.all()],
        "departments_confirmed": m.departments_confirmed,
        "deliverables": m.deliverables,
        "deadline": m.deadline,
        "status": m.status,
    }


# --------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------


def _quarter_ends(start: dt.date, until: dt.date) -> list[dt.date]:
    out = []
    year, q = start.year, (start.month - 1) // 3 + 1
    while True:
        end = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1)
        if end > until:
            break
        out.append(end)
        year, q = (year + 1, 1) if q == 4 else (year, q + 1)
    return out


def metric_items(target: Target, as_of: dt.date) -> QuerySet:
    if target.obtained != Target.Obtained.COMPUTED:
        raise NotFound(f"{target.code} is reported, not computed.", code="not_computed")
    return METRICS[target.metric].items(as_of, target.plan.starts_on)


def target_series(target: Target, as_of: dt.date) -> list[tuple[dt.date, float, str]]:
    """``(day, value, source)`` up to ``as_of``: reported values, or computed at each quarter end
    since the plan started (and on ``as_of``)."""
    if target.obtained == Target.Obtained.COMPUTED:
        last = min(as_of, progress.year_end(target.target_year))
        days = _quarter_ends(target.plan.starts_on, last)
        if not days or days[-1] != last:
            days.append(last)
        return [(d, float(metric_items(target, d).count()), "computed") for d in days]
    return [(v.on, v.value, v.source) for v in target.values.filter(on__lte=as_of).order_by("on")]


def _baseline(target: Target, series: list) -> tuple[dt.date, float] | None:
    if target.baseline_value is not None:
        year = target.baseline_year or target.plan.starts_on.year - 1
        return progress.year_end(year), target.baseline_value
    if target.obtained == Target.Obtained.COMPUTED:
        day = target.plan.starts_on - dt.timedelta(days=1)
        return day, float(metric_items(target, day).count())
    return (series[0][0], series[0][1]) if series else None


def target_status(target: Target, as_of: dt.date | None = None) -> dict[str, Any]:
    """Everything about one target on a day: current value, series, progress, projection."""
    as_of = as_of or _today()
    cfg = config.plan_settings()
    series = target_series(target, as_of)
    baseline = _baseline(target, series)
    current = series[-1] if series else None
    per_year_series = [(d, v) for d, v, _ in series]
    if target.per_year:
        per_year_series = _yearly(series)
    proj = progress.project(
        direction=target.direction,
        baseline=baseline,
        target_value=target.target_value,
        target_year=target.target_year,
        series=per_year_series,
        per_year=target.per_year,
        on_track=cfg["on_track"],
        at_risk=cfg["at_risk"],
    )
    fraction = expected = None
    if current is not None and target.target_value is not None:
        if target.per_year:
            latest = per_year_series[-1][1]
            fraction = latest / target.target_value if target.target_value else None
            expected = 1.0
        elif baseline is not None:
            fraction = progress.progress_fraction(
                target.direction, baseline[1], target.target_value, current[1]
            )
            expected = progress.expected_fraction(
                baseline[0], progress.year_end(target.target_year), as_of
            )
    return {
        "code": target.code,
        "indicator": target.indicator,
        "indicator_en": target.indicator_en,
        "unit": target.unit,
        "direction": target.direction,
        "obtained": target.obtained,
        "metric": target.metric,
        "department": target.department.code,
        "measure": target.measure.number if target.measure_id else None,
        "source_section": target.source_section,
        "note": target.note,
        "per_year": target.per_year,
        "baseline": {
            "value": baseline[1] if baseline else None,
            "on": baseline[0] if baseline else None,
            "recorded": target.baseline_value is not None,
        },
        "target": {"value": target.target_value, "year": target.target_year},
        "as_of": as_of,
        "current": (
            None
            if current is None
            else {"value": per_year_series[-1][1], "on": current[0]}
            if target.per_year
            else {"value": current[1], "on": current[0]}
        ),
        "series": [{"on": d, "value": v, "source": s} for d, v, s in series],
        "progress": fraction,
        "progress_percent": round(100 * fraction, 1) if fraction is not None else None,
        "expected_percent": round(100 * expected, 1) if expected is not None else None,
        "achieved": (
            progress.is_achieved(target.direction, target.target_value, current[1])
            if current and target.target_value is not None
            else None
        ),
        "projection": {
            "status": proj.status,
            "value": round(proj.value, 2) if proj.value is not None else None,
            "percent": round(100 * proj.fraction, 1) if proj.fraction is not None else None,
            "method": proj.method,
            "method_kind": proj.method_kind,
            "points": proj.points,
            "on_track_percent": round(100 * cfg["on_track"]),
            "at_risk_percent": round(100 * cfg["at_risk"]),
        },
    }


def _yearly(series: list[tuple[dt.date, float, str]]) -> list[tuple[dt.date, float]]:
    """Per-year targets: the values of a year add up (quarterly reports of a yearly count)."""
    sums: dict[int, float] = defaultdict(float)
    last: dict[int, dt.date] = {}
    for d, v, _ in series:
        sums[d.year] += v
        last[d.year] = d
    return [(last[y], sums[y]) for y in sorted(sums)]


def targets_overview(plan: Plan, as_of: dt.date | None = None) -> list[dict[str, Any]]:
    targets = plan.targets.select_related("department", "measure", "plan")
    return [target_status(t, as_of) for t in targets]


def target_get(plan: Plan, code: str) -> Target:
    t = plan.targets.select_related("department", "measure", "plan").filter(code=code).first()
    if t is None:
        raise NotFound(f"No target {code!r}.", code="target_not_found")
    return t


def item_dict(item: Any) -> dict[str, Any]:
    """One registry item as the drill-down shows it."""
    out: dict[str, Any] = {"id": item.pk, "label": str(item)}
    for f in item._meta.concrete_fields:
        if f.name in ("id", "created_at", "updated_at", "source_file", "row_number"):
            continue
        out[f.name] = f.value_from_object(item)
    out["organisations"] = [
        {"code": s.code, "name": s.name} for s in item.subjects.all() if s.kind == "legal"
    ]
    return out


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------


def report_list(
    *,
    user: Any,
    plan: Plan,
    status: str | None = None,
    department: str | None = None,
    period: str | None = None,
    measure: str | None = None,
) -> QuerySet:
    """The plan's reports ``user`` may see, filtered."""
    return _reports_filtered(
        ProgressReport.objects.restrict(user, "view"),
        plan=plan,
        status=status,
        department=department,
        period=period,
        measure=measure,
    )


def report_list_operator(
    *,
    plan: Plan,
    status: str | None = None,
    department: str | None = None,
    period: str | None = None,
    measure: str | None = None,
) -> QuerySet:
    """Every report of the plan, filtered: for the operator's command line."""
    return _reports_filtered(
        ProgressReport.objects.all(),
        plan=plan,
        status=status,
        department=department,
        period=period,
        measure=measure,
    )


def _reports_filtered(
    qs: QuerySet,
    *,
    plan: Plan,
    status: str | None,
    department: str | None,
    period: str | None,
    measure: str | None,
) -> QuerySet:
    qs = qs.filter(measure__plan=plan).select_related(
        "measure", "department", "submitted_by", "reviewed_by"
    )
    if status:
        qs = qs.filter(status=status)
    if department:
        qs = qs.filter(department__code=department)
    if period:
        qs = qs.filter(period=period)
    if measure:
        qs = qs.filter(measure__number=measure)
    return qs


def reportable_targets(*, plan: Plan, department: Any) -> QuerySet:
    """The targets whose values ``department`` reports (not computed by the platform)."""
    return Target.objects.filter(
        plan=plan, department=department, obtained=Target.Obtained.REPORTED
    )


def report_get(*, user: Any, pk: int) -> ProgressReport:
    r = (
        ProgressReport.objects.restrict(user, "view")
        .select_related("measure", "measure__plan", "department")
        .filter(pk=pk)
        .first()
    )
    if r is None:
        raise NotFound("No such report.", code="report_not_found")
    return r


def report_dict(r: ProgressReport) -> dict[str, Any]:
    return {
        "id": r.pk,
        "measure": r.measure.number,
        "department": r.department.code,
        "period": r.period,
        "due_on": r.due_on,
        "status": r.status,
        "task_status": r.task_status,
        "narrative": r.narrative,
        "values": r.values,
        "evidence": [{k: e[k] for k in ("name", "sha256", "size")} for e in r.evidence],
        "late": r.late,
        "submitted_at": r.submitted_at,
        "reviewed_at": r.reviewed_at,
        "review_comment": r.review_comment,
        "events": [{"kind": e.kind, "at": e.at, "comment": e.comment} for e in r.events.all()],
    }


def overdue_reports(*, user: Any, plan: Plan) -> QuerySet:
    return report_list(user=user, plan=plan, status=ProgressReport.Status.OVERDUE).order_by(
        "due_on", "measure__sort"
    )


def tasks_by_status_and_department(plan: Plan) -> dict[str, Any]:
    """Rows: lead departments; columns: measure statuses; cells: counts."""
    counts = Counter(plan.measures.values_list("lead_department_id", "status"))
    depts = Department.objects.filter(pk__in={d for d, _ in counts}).order_by("sort")
    statuses = list(Measure.Status.choices)
    rows = [
        {
            "department": d,
            "cells": [counts.get((d.pk, s), 0) for s, _ in statuses],
            "total": sum(counts.get((d.pk, s), 0) for s, _ in statuses),
        }
        for d in depts
    ]
    totals = Counter(plan.measures.values_list("status", flat=True))
    return {
        "statuses": statuses,
        "rows": rows,
        "totals": [totals.get(s, 0) for s, _ in statuses],
    }


def notice_list(*, user: Any, plan: Plan, status: str | None = None) -> QuerySet:
    qs = (
        SupervisionNotice.objects.restrict(user, "view")
        .filter(plan=plan)
        .select_related("department", "measure", "target")
    )
    if status:
        qs = qs.filter(status=status)
    return qs


# --------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------


def registry_file_dict(rf: RegistryFile) -> dict[str, Any]:
    return {
        "id": rf.pk,
        "kind": rf.kind,
        "file": rf.original_name,
        "sha256": rf.sha256,
        "format": rf.file_format,
        "encoding": rf.encoding,
        "status": rf.status,
        "refusal_code": rf.refusal_code,
        "refusal_message": rf.refusal_message,
        "rows": rf.rows,
        "accepted": rf.accepted,
        "updated": rf.updated,
        "duplicates": rf.duplicates,
        "rejected": rf.rejected,
        "rejected_rows": [
            {"row": r.row_number, "reasons": r.reasons, "data": r.data}
            for r in rf.rejected_rows.all()[:200]
        ],
    }


def registry_items(kind: str, *, q: str = "", sub_kind: str = "") -> QuerySet:
    k = KINDS[kind]
    qs = k.model.objects.all().prefetch_related("subjects")
    if sub_kind and any(f.name == "kind" for f in k.model._meta.fields):
        qs = qs.filter(kind=sub_kind)
    if q:
        text_fields = [
            f.name
            for f in k.model._meta.fields
            if f.get_internal_type() == "CharField" and f.name not in ("kind",)
        ]
        cond = Q()
        for f in text_fields:
            cond |= Q(**{f"{f}__icontains": q})
        qs = qs.filter(cond)
    return qs


def registry_counts(group: str) -> list[dict[str, Any]]:
    return [
        {"kind": k.code, "label": k.label, "label_zh": k.label_zh, "count": k.model.objects.count()}
        for k in KINDS.values()
        if k.group == group
    ]


def registry_files(kind: str | None = None) -> QuerySet:
    qs = RegistryFile.objects.all()
    return qs.filter(kind=kind) if kind else qs


# --------------------------------------------------------------------------------------------
# Assessment and notices
# --------------------------------------------------------------------------------------------


def assessment_compute(
    *, plan: Plan, year: int, as_of: dt.date, scheme: dict[str, Any]
) -> list[dict[str, Any]]:
    """The ranked table: one row per responsible department, every component with inputs."""
    weights = scheme["weights"]
    measures = list(plan.measures.select_related("lead_department"))
    targets = list(plan.targets.select_related("department", "measure", "plan"))
    dept_ids = {m.lead_department_id for m in measures} | {t.department_id for t in targets}
    depts = {d.pk: d for d in Department.objects.filter(pk__in=dept_ids)}
    periods = [
        p
        for p in plan_periods(plan, until=as_of)
        if period_bounds(p)[0].year == year and period_due(p) <= as_of
    ]
    reports = {
        (r.measure_id, r.department_id, r.period): r
        for r in ProgressReport.objects.filter(measure__plan=plan, period__in=periods)
    }
    accepted = defaultdict(list)
    for r in ProgressReport.objects.filter(
        measure__plan=plan,
        status=ProgressReport.Status.ACCEPTED,
        period_end__year=year,
        period_end__lte=as_of,
    ).order_by("period_end"):
        accepted[(r.measure_id, r.department_id)].append(r)
    statuses = {t.pk: target_status(t, as_of) for t in targets if t.target_value is not None}

    rows = []
    for dept_id, dept in depts.items():
        comps: dict[str, dict[str, Any]] = {}
        own = [m for m in measures if m.lead_department_id == dept_id]
        if own:
            inputs = []
            for m in own:
                latest = (accepted.get((m.pk, dept_id)) or [None])[-1]
                status = latest.task_status if latest else None
                inputs.append(
                    {
                        "measure": m.number,
                        "report": latest.pk if latest else None,
                        "period": latest.period if latest else None,
                        "task_status": status,
                        "score": scheme["task_status_scores"].get(status, 0.0) if status else 0.0,
                    }
                )
            comps["task_completion"] = _component(inputs, weights["task_completion"])
            if periods:
                inputs = []
                for m in own:
                    for p in periods:
                        r = reports.get((m.pk, dept_id, p))
                        if r is None or r.status == ProgressReport.Status.OVERDUE:
                            outcome = "missing"
                        else:
                            outcome = "late" if r.late else "on_time"
                        inputs.append(
                            {
                                "measure": m.number,
                                "period": p,
                                "due_on": period_due(p),
                                "report": r.pk if r else None,
                                "outcome": outcome,
                                "score": scheme["timeliness_scores"][outcome],
                            }
                        )
                comps["timeliness"] = _component(inputs, weights["timeliness"])
        answered = [t for t in targets if t.department_id == dept_id and t.pk in statuses]
        if answered:
            inputs = []
            for t in answered:
                st = statuses[t.pk]
                actual = st["progress"]
                expected = (st["expected_percent"] or 0) / 100
                if actual is None:
                    score = 0.0
                elif t.per_year or expected <= 0:
                    score = max(0.0, min(1.0, actual))
                else:
                    score = max(0.0, min(1.0, actual / expected))
                inputs.append(
                    {
                        "target": t.code,
                        "value": st["current"]["value"] if st["current"] else None,
                        "progress_percent": st["progress_percent"],
                        "expected_percent": st["expected_percent"],
                        "score": round(score, 4),
                    }
                )
            comps["target_achievement"] = _component(inputs, weights["target_achievement"])
        total_w = sum(c["weight"] for c in comps.values())
        score = (
            round(100 * sum(c["weight"] * c["score"] for c in comps.values()) / total_w, 2)
            if total_w
            else 0.0
        )
        rows.append(
            {"department_id": dept_id, "sort": dept.sort, "score": score, "components": comps}
        )
    rows.sort(key=lambda r: (-r["score"], r["sort"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows


def district_assessment_compute(
    *, plan: Plan, year: int, as_of: dt.date, scheme: dict[str, Any]
) -> list[dict[str, Any]]:
    """The districts' ranked table (``district_metrics`` of the scheme): for each metric, the
    items of subjects registered in the district that the metric counts on ``as_of`` but did
    not count at the end of the previous year, against the best district's gain. Every
    component keeps the metric, the gain, the best gain and the ids of the items behind it."""
    from qualitycity.subjects.codelists import DISTRICTS

    from .registries import METRICS

    weights = scheme.get("district_metrics") or {}
    if not weights:
        return []
    year_start = dt.date(year, 1, 1) - dt.timedelta(days=1)
    gains: dict[str, dict[str, set[int]]] = {}
    for code in weights:
        metric = METRICS[code]
        before = set(metric.items(year_start, plan.starts_on).values_list("pk", flat=True))
        per: dict[str, set[int]] = defaultdict(set)
        for pk, district in (
            metric.items(as_of, plan.starts_on)
            .filter(subjects__district__in=DISTRICTS)
            .values_list("pk", "subjects__district")
            .distinct()
        ):
            if pk not in before:
                per[district].add(pk)
        gains[code] = per
    city = next(iter(DISTRICTS))  # the city's own code: subjects without a district
    rows = []
    for district in (d for d in DISTRICTS if d != city):
        comps: dict[str, dict[str, Any]] = {}
        for code, weight in weights.items():
            per = gains[code]
            best = max((len(v) for v in per.values()), default=0)
            if best == 0:
                continue  # no district gained: the metric does not separate them
            held = sorted(per.get(district, ()))
            comps[code] = {
                "score": round(len(held) / best, 4),
                "weight": weight,
                "inputs": [
                    {
                        "metric": code,
                        "registry": METRICS[code].kind,
                        "gained": len(held),
                        "best_gain": best,
                        "items": held,
                    }
                ],
            }
        total_w = sum(c["weight"] for c in comps.values())
        score = (
            round(100 * sum(c["weight"] * c["score"] for c in comps.values()) / total_w, 2)
            if total_w
            else 0.0
        )
        rows.append({"district": district, "score": score, "components": comps})
    rows.sort(key=lambda r: (-r["score"], r["district"]))
    for i, r in enumerate(rows, 1):
        r["rank"] = i
    return rows


def _component(inputs: list[dict[str, Any]], weight: float) -> dict[str, Any]:
    score = sum(i["score"] for i in inputs) / len(inputs) if inputs else 0.0
    return {"score": round(score, 4), "weight": weight, "inputs": inputs}


def assessment_get(plan: Plan, year: int) -> Assessment:
    a = plan.assessments.filter(year=year).first()
    if a is None:
        raise NotFound(f"No assessment for {year}.", code="assessment_not_found")
    return a


def assessment_table(a: Assessment, unit_kind: str = "department") -> list[dict[str, Any]]:
    """The ranked rows of one kind of unit: ``department`` or ``district``."""
    from qualitycity.core.i18n import bilingual
    from qualitycity.subjects.codelists import DISTRICTS

    rows = []
    for s in a.scores.filter(unit_kind=unit_kind).select_related("department"):
        row = {"rank": s.rank, "score": s.score, "components": s.components}
        if unit_kind == "district":
            zh, en = DISTRICTS.get(s.district, (s.district, s.district))
            row.update(district=s.district, district_name=str(bilingual(zh, en)))
        else:
            row.update(department=s.department.code, department_name=s.department.name)
        rows.append(row)
    return rows


def lagging_findings(*, plan: Plan, on: dt.date) -> list[dict[str, Any]]:
    cfg = config.plan_settings()
    out = []
    for m in plan.measures.filter(status=Measure.Status.DELAYED):
        out.append(
            {
                "kind": SupervisionNotice.Kind.LAGGING_TASK,
                "ref": m.number,
                "department_id": m.lead_department_id,
                "measure_id": m.pk,
                "reason": f"措施{m.number}「{m.title}」最近一次通过审核的报告为进度滞后",
                "evidence": {"measure": m.number, "status": m.status},
            }
        )
    missing = defaultdict(list)
    for r in ProgressReport.objects.filter(
        measure__plan=plan, status=ProgressReport.Status.OVERDUE, due_on__lt=on
    ).select_related("measure"):
        missing[(r.measure_id, r.department_id, r.measure.number)].append(r.period)
    for (mid, did, number), periods in missing.items():
        if len(periods) >= cfg["missing_reports"]:
            out.append(
                {
                    "kind": SupervisionNotice.Kind.MISSING_REPORTS,
                    "ref": number,
                    "department_id": did,
                    "measure_id": mid,
                    "reason": f"措施{number}有{len(periods)}期进展报告逾期未报送:"
                    + "、".join(sorted(periods)),
                    "evidence": {"measure": number, "periods": sorted(periods)},
                }
            )
    for t in plan.targets.select_related("department", "measure", "plan"):
        st = target_status(t, on)
        if st["projection"]["status"] == progress.OFF_TRACK:
            out.append(
                {
                    "kind": SupervisionNotice.Kind.LAGGING_TARGET,
                    "ref": t.code,
                    "department_id": t.department_id,
                    "target_id": t.pk,
                    "reason": (
                        f"指标「{t.indicator}」按现有趋势预计{t.target_year}年末达到"
                        f"{st['projection']['value']}{t.unit},距目标{t.target_value:g}{t.unit}差距较大"
                    ),
                    "evidence": {
                        "current": st["current"],
                        "projection": st["projection"],
                        "progress_percent": st["progress_percent"],
                    },
                }
            )
    return out


# --------------------------------------------------------------------------------------------
# Public release
# --------------------------------------------------------------------------------------------


def public_snapshot(*, plan: Plan, as_of: dt.date) -> dict[str, Any]:
    """What the portal shows: targets with progress and the measures' status (no people)."""
    targets = []
    for st in targets_overview(plan, as_of):
        targets.append(
            {
                k: st[k]
                for k in (
                    "code",
                    "indicator",
                    "indicator_en",
                    "unit",
                    "direction",
                    "note",
                    "progress_percent",
                    "achieved",
                    "per_year",
                )
            }
            | {
                "baseline": st["baseline"]["value"],
                "target": st["target"]["value"],
                "target_year": st["target"]["year"],
                "current": st["current"]["value"] if st["current"] else None,
                "current_on": st["current"]["on"].isoformat() if st["current"] else None,
                "projection": st["projection"]["status"],
                "series": [{"on": p["on"].isoformat(), "value": p["value"]} for p in st["series"]],
            }
        )
    measures = [
        {
            "number": m.number,
            "title": m.title,
            "lead_department": m.lead_department.name_zh,
            "lead_department_en": m.lead_department.name_en,
            "status": m.status,
        }
        for m in plan.measures.select_related("lead_department")
    ]
    return {
        "plan": {"code": plan.code, "title": plan.title, "title_en": plan.title_en},
        "as_of": as_of.isoformat(),
        "targets": targets,
        "measures": measures,
        "measure_status_counts": dict(Counter(m["status"] for m in measures)),
    }


def public_release() -> PlanRelease | None:
    """The latest release of the latest plan (the portal's page), or None."""
    return PlanRelease.objects.select_related("plan").order_by("-created_at", "-id").first()


def public_release_context() -> dict[str, Any] | None:
    """The latest release ready for the portal's page: targets with progress bars and trend
    charts drawn from the snapshot (what was released, not today's data)."""
    from .charts import trend_svg

    release = public_release()
    if release is None:
        return None
    snap = release.content
    targets = []
    for t in snap["targets"]:
        status = {
            "indicator": t["indicator"],
            "series": [
                {"on": dt.date.fromisoformat(p["on"]), "value": p["value"]} for p in t["series"]
            ],
            "baseline": {"value": None, "on": None},
            "target": {"value": t["target"], "year": t["target_year"]},
        }
        pct = t["progress_percent"]
        targets.append(
            t
            | {
                "svg": trend_svg(status),
                "bar": None if pct is None else max(0.0, min(100.0, pct)),
            }
        )
    return {
        "release": release,
        "as_of": dt.date.fromisoformat(snap["as_of"]),
        "plan": snap["plan"],
        "targets": targets,
        "measures": snap["measures"],
        "counts": snap["measure_status_counts"],
    }
