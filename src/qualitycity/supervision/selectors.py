"""Supervision reads: plans and draws (scoped), tasks, results, the public results page."""

from __future__ import annotations

from typing import Any

from django.db import models

from qualitycity.core.errors import NotFound
from qualitycity.core.models import ApiClient, Role
from qualitycity.core.permissions import has_scope, require_scope
from qualitycity.subjects.identifiers import mask_person_name, mask_resident_id

from .models import (
    Commitment,
    DrawAttempt,
    IncidentReport,
    InspectionPlan,
    InspectionResult,
    InspectionTask,
    Inspector,
    Sample,
    SpotCheckPlan,
)

PUBLIC_PAGE_SIZE = 50


def _actor_department_id(actor: Any) -> int | None:
    if actor is None:
        return None
    if not isinstance(actor, ApiClient):
        inspector = getattr(actor, "inspector", None)
        if inspector is not None:
            return inspector.department_id
    return getattr(actor, "department_id", None)


def plans(*, actor: Any) -> models.QuerySet:
    """Plans an actor may read: city-wide roles and inspectors all, departments their own."""
    qs = (
        InspectionPlan.objects.all()
        .select_related("current_draw")
        .prefetch_related("items__department")
    )
    if actor is None:
        return qs
    require_scope(actor, "supervision.read")
    if actor.is_citywide or getattr(actor, "role", None) == Role.INSPECTOR:
        return qs
    dept = _actor_department_id(actor)
    return qs.filter(items__department_id=dept).distinct() if dept else qs.none()


def plan_get(*, actor: Any, pk: int) -> InspectionPlan:
    plan = plans(actor=actor).filter(pk=pk).first()
    if plan is None:
        raise NotFound(f"No inspection plan {pk}.", code="plan_not_found")
    return plan


def draw_get(*, plan: InspectionPlan, number: int | None = None) -> DrawAttempt:
    qs = plan.draws.all()
    attempt = qs.filter(number=number).first() if number else plan.current_draw
    if attempt is None:
        raise NotFound(
            "This plan has not been drawn." if not number else f"No draw {number} of this plan.",
            code="draw_not_found",
        )
    return attempt


def draw_dict(d: DrawAttempt) -> dict[str, Any]:
    return {
        "number": d.number,
        "seed": d.seed,
        "algorithm": d.algorithm,
        "subjects_digest": d.subjects_digest,
        "inspectors_digest": d.inspectors_digest,
        "pool_size": d.pool_size,
        "inspector_count": d.inspector_count,
        "task_count": d.task_count,
        "unstaffed": d.unstaffed,
        "class_counts": d.class_counts,
        "class_run": d.class_run_id,
        "parameters": d.parameters,
        "reason": d.reason,
        "drawn_by": d.drawn_by.username if d.drawn_by_id else None,
        "drawn_at": d.drawn_at,
        "seconds": d.seconds,
    }


def plan_dict(plan: InspectionPlan, *, draws: bool = False) -> dict[str, Any]:
    items = list(plan.items.all())
    out: dict[str, Any] = {
        "id": plan.pk,
        "name": plan.name,
        "year": plan.year,
        "status": plan.status,
        "joint": len(items) > 1,
        "items": [
            {
                "department": i.department.code,
                "department_name": i.department.name,
                "matter": i.matter,
                "qualification": i.qualification,
            }
            for i in items
        ],
        "ratios": plan.ratios,
        "default_class": plan.default_class,
        "filters": plan.filters,
        "min_inspectors": plan.min_inspectors,
        "avoid_home_district": plan.avoid_home_district,
        "current_draw": draw_dict(plan.current_draw) if plan.current_draw_id else None,
        "results": InspectionResult.objects.filter(task__draw_id=plan.current_draw_id).count()
        if plan.current_draw_id
        else 0,
    }
    if draws:
        out["draws"] = [draw_dict(d) for d in plan.draws.select_related("drawn_by")]
    return out


def plan_rows(*, actor: Any) -> list[dict[str, Any]]:
    return [plan_dict(p) for p in plans(actor=actor)]


def tasks(*, plan: InspectionPlan, draw: DrawAttempt | None = None) -> models.QuerySet:
    draw_id = draw.pk if draw is not None else plan.current_draw_id
    return (
        InspectionTask.objects.filter(draw_id=draw_id)
        .select_related("subject")
        .prefetch_related("assignments__inspector__department", "results__department")
        .order_by("number")
    )


def task_dict(t: InspectionTask, *, masked: bool = False) -> dict[str, Any]:
    s = t.subject
    person = s.kind == "person"
    return {
        "number": t.number,
        "id": t.pk,
        "subject": {
            "code": mask_resident_id(s.code) if masked and person else s.code,
            "name": mask_person_name(s.name) if masked and person else s.name,
        },
        "risk_class": t.risk_class,
        "status": t.status,
        "unstaffed_reason": t.unstaffed_reason,
        "inspectors": [
            {
                "badge_no": a.inspector.badge_no,
                "name": a.inspector.name,
                "department": a.inspector.department.code,
            }
            for a in t.assignments.all()
        ],
        "results": [
            {
                "department": r.department.code,
                "outcome": r.outcome,
                "inspected_on": r.inspected_on,
                "published_on": r.published_on,
                "publication_late": r.publication_late,
            }
            for r in t.results.all()
        ],
    }


def task_get(*, actor: Any, plan: InspectionPlan, number: int) -> InspectionTask:
    t = tasks(plan=plan).filter(number=number).first()
    if t is None:
        raise NotFound(f"No task {number} in the current draw of this plan.", code="task_not_found")
    return t


def my_tasks(*, actor: Any) -> models.QuerySet:
    """An inspector user's open tasks (current draws)."""
    inspector = getattr(actor, "inspector", None) if not isinstance(actor, ApiClient) else None
    if inspector is None:
        return InspectionTask.objects.none()
    return (
        InspectionTask.objects.filter(
            assignments__inspector=inspector,
            draw_id=models.F("plan__current_draw_id"),
            status=InspectionTask.Status.ASSIGNED,
        )
        .select_related("subject", "plan")
        .order_by("plan_id", "number")
    )


def _scoped(model: Any, actor: Any) -> models.QuerySet:
    """The command line (no actor) is the operator: everything; others through the rule."""
    return model.objects.all() if actor is None else model.objects.restrict(actor, "view")


def inspectors(*, actor: Any) -> models.QuerySet:
    return _scoped(Inspector, actor).select_related("department", "user")


def commitments(*, actor: Any) -> models.QuerySet:
    return _scoped(Commitment, actor).select_related("subject", "department")


def incidents(*, actor: Any) -> models.QuerySet:
    return _scoped(IncidentReport, actor).select_related("subject", "department")


def incident_get(*, actor: Any, pk: int) -> IncidentReport:
    r = incidents(actor=actor).filter(pk=pk).first()
    if r is None:
        raise NotFound(f"No incident report {pk}.", code="incident_not_found")
    return r


def spot_plans(*, actor: Any) -> models.QuerySet:
    return _scoped(SpotCheckPlan, actor).select_related("department")


def samples(*, plan: SpotCheckPlan) -> models.QuerySet:
    return plan.samples.select_related("subject", "recheck_of").order_by("sample_no")


def overdue_results(*, actor: Any) -> models.QuerySet:
    return (
        _scoped(InspectionResult, actor)
        .filter(publication_late=True)
        .select_related("task__subject", "department")
    )


def can(actor: Any, scope: str) -> bool:
    return has_scope(actor, scope)


# --------------------------------------------------------------------------------------------
# The public page (portal)
# --------------------------------------------------------------------------------------------


def _public_subject(s: Any) -> dict[str, str]:
    person = s.kind == "person"
    return {
        "code": mask_resident_id(s.code) if person else s.code,
        "name": mask_person_name(s.name) if person else s.name,
        "ref": "" if person else s.code,
    }


def public_results(*, page: int = 1, kind: str = "inspections") -> dict[str, Any]:
    """Published results of "double random" inspections, or of spot checks; persons masked."""
    if kind == "spot_checks":
        qs = (
            Sample.objects.exclude(result=Sample.Result.PENDING)
            .filter(record__isnull=False)
            .select_related("subject", "plan__department")
            .order_by("-result_date", "-id")
        )
    else:
        qs = (
            InspectionResult.objects.filter(published_on__isnull=False)
            .select_related("task__subject", "task__plan", "department")
            .order_by("-published_on", "-id")
        )
    total = qs.count()
    pages = max(1, -(-total // PUBLIC_PAGE_SIZE))
    page = min(max(1, page), pages)
    rows = qs[(page - 1) * PUBLIC_PAGE_SIZE : page * PUBLIC_PAGE_SIZE]
    items = []
    for r in rows:
        if kind == "spot_checks":
            items.append(
                {
                    "subject": _public_subject(r.subject),
                    "product": r.product,
                    "batch": r.batch,
                    "category": r.plan.product_category,
                    "result": r.result,
                    "result_label": r.get_result_display(),
                    "failed_items": r.failed_items,
                    "standard": r.standard,
                    "date": r.result_date,
                    "department": r.plan.department.name,
                    "recheck": r.recheck_of_id is not None,
                }
            )
        else:
            items.append(
                {
                    "subject": _public_subject(r.task.subject),
                    "plan": r.task.plan.name,
                    "matter": r.task.plan.items.get(department_id=r.department_id).matter,
                    "outcome": r.outcome,
                    "outcome_label": r.get_outcome_display(),
                    "date": r.inspected_on,
                    "published_on": r.published_on,
                    "department": r.department.name,
                }
            )
    return {"items": items, "total": total, "page": page, "pages": pages, "kind": kind}


def public_plans() -> list[dict[str, Any]]:
    """Drawn plans with their seed and pool digests: anyone can check a draw."""
    out = []
    for p in (
        InspectionPlan.objects.filter(current_draw__isnull=False)
        .select_related("current_draw")
        .prefetch_related("items__department")
        .order_by("-id")[:50]
    ):
        d = p.current_draw
        out.append(
            {
                "id": p.pk,
                "name": p.name,
                "departments": [i.department.name for i in p.items.all()],
                "draw": d.number,
                "seed": d.seed,
                "subjects_digest": d.subjects_digest,
                "inspectors_digest": d.inspectors_digest,
                "task_count": d.task_count,
                "drawn_at": d.drawn_at,
            }
        )
    return out
