"""Supervision API, mounted at ``/api/v1/supervision``.

Scopes: ``supervision.read`` (plans, draws, tasks, incidents, commitments), ``supervision.plan``
(create and draw plans), ``supervision.result`` (enter results, triage incidents — the own
department's: 403 ``forbidden_department`` otherwise), ``supervision.report`` (an enterprise
signs commitments and reports incidents for its own subject: 403 ``not_your_subject``).
Errors use the platform envelope ``{"code", "message", "details"}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from qualitycity.core.errors import NotFound
from qualitycity.core.models import Department
from qualitycity.core.permissions import require_scope
from qualitycity.core.services import department_get
from qualitycity.subjects.selectors import subject_get

from . import selectors, services

router = Router(tags=["supervision"])


class ItemIn(Schema):
    department: str = Field(description="department code")
    matter: str = Field(description="the inspection matter")
    qualification: str = ""


class PlanIn(Schema):
    name: str
    items: list[ItemIn] = Field(description="several departments make a joint plan")
    year: int | None = None
    ratios: dict[str, Any] | None = Field(
        None, description="class A-D → percent 0-100 (default: docs/supervision.md)"
    )
    default_class: str | None = None
    industries: list[str] = []
    districts: list[str] = []
    statuses: list[str] = []
    licence: str = ""
    min_inspectors: int | None = None
    avoid_home_district: bool = False


class DrawIn(Schema):
    reason: str = Field("", description="required when the plan was drawn already")


class ResultIn(Schema):
    outcome: str = Field(
        description="conforming, issues_found, rectification_ordered, penalty_referred, not_found"
    )
    inspected_on: dt.date
    findings: str = ""
    department: str | None = Field(None, description="city-wide staff name the department")
    publish: bool = True
    unreported_incident: str = ""


class CommitmentIn(Schema):
    template: str
    subject: str | None = Field(None, description="staff only; enterprises sign for their own")


class IncidentIn(Schema):
    product: str
    defect: str
    discovered_at: dt.datetime
    batch: str = ""
    harm: str = ""
    scale: str = ""
    actions_taken: str = ""
    department: str = "market"
    subject: str | None = None


class TriageIn(Schema):
    risk_level: str
    follow_up: str
    recall_needed: bool
    close: bool = False


class TaskFilter(Schema):
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0)


def _department(code: str | None) -> Department | None:
    return department_get(code=code) if code else None


@router.get("/plans", operation_id="supervision_plans", summary="Inspection plans")
def plans_list(request: HttpRequest):
    return selectors.plan_rows(actor=request.auth)


@router.post(
    "/plans",
    operation_id="supervision_plan_create",
    response={201: dict[str, Any]},
    summary="Create a plan",
)
def plan_create(request: HttpRequest, payload: PlanIn):
    require_scope(request.auth, "supervision.plan")
    plan = services.plan_create(
        actor=request.auth,
        name=payload.name,
        items=[i.dict() for i in payload.items],
        year=payload.year,
        ratios=payload.ratios,
        default_class=payload.default_class,
        filters={
            "industries": payload.industries,
            "districts": payload.districts,
            "statuses": payload.statuses,
            "licence": payload.licence,
        },
        min_inspectors=payload.min_inspectors,
        avoid_home_district=payload.avoid_home_district,
    )
    return Status(201, selectors.plan_dict(plan))


@router.get("/plans/{plan_id}", operation_id="supervision_plan", summary="A plan and its draws")
def plan_get(request: HttpRequest, plan_id: int):
    return selectors.plan_dict(selectors.plan_get(actor=request.auth, pk=plan_id), draws=True)


@router.post(
    "/plans/{plan_id}/draw",
    operation_id="supervision_plan_draw",
    response={201: dict[str, Any]},
    summary="Draw",
)
def plan_draw(request: HttpRequest, plan_id: int, payload: DrawIn):
    """Every draw is recorded; drawing again needs a reason (400 ``reason_required``) and is
    refused once results were entered (409 ``results_entered``)."""
    require_scope(request.auth, "supervision.plan")
    plan = selectors.plan_get(actor=request.auth, pk=plan_id)
    attempt = services.plan_draw(plan=plan, actor=request.auth, reason=payload.reason)
    return Status(201, selectors.draw_dict(attempt))


@router.get("/plans/{plan_id}/verify", operation_id="supervision_plan_verify", summary="Verify")
def plan_verify(request: HttpRequest, plan_id: int, draw: int | None = None):
    plan = selectors.plan_get(actor=request.auth, pk=plan_id)
    return services.draw_verify(attempt=selectors.draw_get(plan=plan, number=draw)).as_dict()


@router.get("/plans/{plan_id}/tasks", operation_id="supervision_tasks", summary="Tasks")
def tasks_list(request: HttpRequest, plan_id: int, filters: Query[TaskFilter]):
    plan = selectors.plan_get(actor=request.auth, pk=plan_id)
    qs = selectors.tasks(plan=plan)
    return {
        "total": qs.count(),
        "items": [
            selectors.task_dict(t) for t in qs[filters.offset : filters.offset + filters.limit]
        ],
    }


@router.post(
    "/plans/{plan_id}/tasks/{number}/results",
    operation_id="supervision_result_enter",
    response={201: dict[str, Any]},
    summary="Enter a department's result of a task",
)
def result_enter(request: HttpRequest, plan_id: int, number: int, payload: ResultIn):
    """403 ``forbidden_department`` for a task not of the actor's department."""
    require_scope(request.auth, "supervision.result")
    plan = selectors.plan_get(actor=request.auth, pk=plan_id)
    task = selectors.task_get(actor=request.auth, plan=plan, number=number)
    r = services.result_enter(
        task=task,
        actor=request.auth,
        outcome=payload.outcome,
        inspected_on=payload.inspected_on,
        findings=payload.findings,
        department=_department(payload.department),
        publish=payload.publish,
        unreported_incident=payload.unreported_incident,
    )
    return Status(
        201,
        {
            "task": task.number,
            "department": r.department.code,
            "outcome": r.outcome,
            "published_on": r.published_on,
            "publish_due": r.publish_due,
            "record": r.record_id,
        },
    )


def _commitment_out(c) -> dict[str, Any]:
    return {
        "number": c.number,
        "template": c.template,
        "subject": c.subject.code,
        "signed_on": c.signed_on,
        "valid_until": c.valid_until,
        "status": c.status,
        "broken_on": c.broken_on,
        "record": c.record_id,
    }


@router.get("/commitments", operation_id="supervision_commitments", summary="Commitments")
def commitments_list(request: HttpRequest):
    actor = request.auth
    if not selectors.can(actor, "supervision.report"):
        require_scope(actor, "supervision.read")
    return [_commitment_out(c) for c in selectors.commitments(actor=actor)[:500]]


@router.post(
    "/commitments",
    operation_id="supervision_commitment_sign",
    response={201: dict[str, Any]},
    summary="Sign",
)
def commitment_sign(request: HttpRequest, payload: CommitmentIn):
    require_scope(request.auth, "supervision.report")
    subject = subject_get(code=payload.subject) if payload.subject else None
    c = services.commitment_sign(actor=request.auth, template=payload.template, subject=subject)
    return Status(201, _commitment_out(c))


def _incident_out(r) -> dict[str, Any]:
    return {
        "id": r.pk,
        "number": r.number,
        "subject": r.subject.code,
        "department": r.department.code,
        "origin": r.origin,
        "product": r.product,
        "defect": r.defect,
        "discovered_at": r.discovered_at,
        "reported_at": r.reported_at,
        "report_due": r.report_due,
        "late": r.late,
        "status": r.status,
        "risk_level": r.risk_level,
        "recall_needed": r.recall_needed,
        "events": [
            {"kind": e.kind, "at": e.at, "note": e.note, "data": e.data} for e in r.events.all()
        ],
    }


@router.get("/incidents", operation_id="supervision_incidents", summary="Incident reports")
def incidents_list(request: HttpRequest):
    actor = request.auth
    if not selectors.can(actor, "supervision.report"):
        require_scope(actor, "supervision.read")
    reports = selectors.incidents(actor=actor).prefetch_related("events")[:500]
    return [_incident_out(r) for r in reports]


@router.post(
    "/incidents",
    operation_id="supervision_incident_report",
    response={201: dict[str, Any]},
    summary="Report",
)
def incident_report(request: HttpRequest, payload: IncidentIn):
    require_scope(request.auth, "supervision.report")
    r = services.incident_report(
        actor=request.auth,
        subject=subject_get(code=payload.subject) if payload.subject else None,
        department=_department(payload.department),
        product=payload.product,
        defect=payload.defect,
        discovered_at=payload.discovered_at,
        batch=payload.batch,
        harm=payload.harm,
        scale=payload.scale,
        actions_taken=payload.actions_taken,
    )
    return Status(201, _incident_out(r))


@router.post(
    "/incidents/{incident_id}/triage", operation_id="supervision_incident_triage", summary="Triage"
)
def incident_triage(request: HttpRequest, incident_id: int, payload: TriageIn):
    require_scope(request.auth, "supervision.result")
    r = selectors.incident_get(actor=request.auth, pk=incident_id)
    r = services.incident_triage(
        actor=request.auth,
        report=r,
        risk_level=payload.risk_level,
        follow_up=payload.follow_up,
        recall_needed=payload.recall_needed,
        close=payload.close,
    )
    return _incident_out(r)


class InspectorIn(Schema):
    badge_no: str
    name: str
    department: str
    qualifications: list[str] = []
    district: str = ""


def _inspector_out(i) -> dict[str, Any]:
    return {
        "badge_no": i.badge_no,
        "name": i.name,
        "department": i.department.code,
        "qualifications": i.qualifications,
        "district": i.district,
        "active": i.active,
    }


@router.get("/inspectors", operation_id="supervision_inspectors", summary="The inspector pool")
def inspectors_list(request: HttpRequest):
    require_scope(request.auth, "supervision.read")
    return [_inspector_out(i) for i in selectors.inspectors(actor=request.auth)[:5000]]


@router.post(
    "/inspectors",
    operation_id="supervision_inspector_create",
    response={201: dict[str, Any]},
    summary="Add an inspector (the own department's)",
)
def inspector_create(request: HttpRequest, payload: InspectorIn):
    require_scope(request.auth, "supervision.plan")
    dept = _department(payload.department)
    i = services.inspector_create(
        actor=request.auth,
        badge_no=payload.badge_no,
        name=payload.name,
        department=dept,
        qualifications=payload.qualifications,
        district=payload.district,
    )
    return Status(201, _inspector_out(i))


class SpotPlanIn(Schema):
    name: str
    product_category: str
    risk: str = Field(description="low, medium or high")
    year: int | None = None


class SampleIn(Schema):
    subject: str = Field(description="the enterprise's code")
    product: str
    batch: str = ""
    sampled_on: dt.date | None = None


class SampleResultIn(Schema):
    result: str = Field(description="pass or fail")
    result_date: dt.date | None = None
    failed_items: str = ""
    standard: str = ""


def _sample_out(s) -> dict[str, Any]:
    return {
        "sample_no": s.sample_no,
        "subject": s.subject.code,
        "product": s.product,
        "batch": s.batch,
        "sampled_on": s.sampled_on,
        "result": s.result,
        "failed_items": s.failed_items,
        "standard": s.standard,
        "result_date": s.result_date,
        "rectification_due": s.rectification_due,
        "recheck_of": s.recheck_of.sample_no if s.recheck_of_id else None,
        "record": s.record_id,
    }


def _spot_plan(request: HttpRequest, plan_id: int):
    plan = selectors.spot_plans(actor=request.auth).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(f"No spot-check plan {plan_id}.", code="spot_plan_not_found")
    return plan


def _sample(request: HttpRequest, sample_no: str):
    from .models import Sample

    s = Sample.objects.filter(
        sample_no=sample_no, plan__in=selectors.spot_plans(actor=request.auth)
    ).first()
    if s is None:
        raise NotFound(f"No sample {sample_no}.", code="sample_not_found")
    return s


@router.get("/spot-checks", operation_id="supervision_spot_checks", summary="Spot-check plans")
def spot_checks_list(request: HttpRequest):
    require_scope(request.auth, "supervision.read")
    return [
        {
            "id": p.pk,
            "name": p.name,
            "product_category": p.product_category,
            "risk": p.risk,
            "year": p.year,
            "department": p.department.code,
            "samples": [_sample_out(s) for s in selectors.samples(plan=p)],
        }
        for p in selectors.spot_plans(actor=request.auth)[:200]
    ]


@router.post(
    "/spot-checks",
    operation_id="supervision_spot_check_create",
    response={201: dict[str, Any]},
    summary="Create a spot-check plan",
)
def spot_check_create(request: HttpRequest, payload: SpotPlanIn):
    require_scope(request.auth, "supervision.plan")
    p = services.spotcheck_plan_create(actor=request.auth, **payload.dict())
    return Status(201, {"id": p.pk, "name": p.name, "department": p.department.code})


@router.post(
    "/spot-checks/{plan_id}/samples",
    operation_id="supervision_sample_take",
    response={201: dict[str, Any]},
    summary="Take a sample from an enterprise",
)
def sample_take(request: HttpRequest, plan_id: int, payload: SampleIn):
    require_scope(request.auth, "supervision.result")
    s = services.sample_take(
        actor=request.auth,
        plan=_spot_plan(request, plan_id),
        subject=subject_get(code=payload.subject),
        product=payload.product,
        batch=payload.batch,
        sampled_on=payload.sampled_on,
    )
    return Status(201, _sample_out(s))


@router.post(
    "/samples/{sample_no}/result",
    operation_id="supervision_sample_result",
    summary="The test result of a sample (a failure orders rectification)",
)
def sample_result(request: HttpRequest, sample_no: str, payload: SampleResultIn):
    require_scope(request.auth, "supervision.result")
    s = services.sample_result(
        actor=request.auth, sample=_sample(request, sample_no), **payload.dict()
    )
    return _sample_out(s)


@router.post(
    "/samples/{sample_no}/recheck",
    operation_id="supervision_sample_recheck",
    response={201: dict[str, Any]},
    summary="Take the re-check sample of a failed sample",
)
def sample_recheck(request: HttpRequest, sample_no: str):
    require_scope(request.auth, "supervision.result")
    s = services.recheck_take(actor=request.auth, sample=_sample(request, sample_no))
    return Status(201, _sample_out(s))
