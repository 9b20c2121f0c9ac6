"""Plan API (``/api/v1/plan``): targets with current values and series, tasks, progress reports
and their review, registries (read and load), the assessment and supervision notices.

Scopes: reading needs ``plan.read``; filing a report ``plan.report`` (a department's own tasks);
accepting or returning one ``plan.review`` (city-wide roles); loading a registry file
``plan.registry``. Reports and notices are scoped to the caller's department unless city-wide.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.http import HttpRequest
from ninja import Field, File, Query, Router, Schema, Status
from ninja.files import UploadedFile

from qualitycity.core.errors import NotFound
from qualitycity.core.permissions import require_scope

from . import selectors, services
from .registries import KINDS

router = Router(tags=["plan"])


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut}


def _read(request: HttpRequest):
    require_scope(request.auth, "plan.read")
    return selectors.current_plan()


@router.get("", response={200: dict, **ERRORS}, operation_id="plan_get")
def plan_get(request: HttpRequest):
    """The current plan: title, issuing bodies, dates, sections and counts."""
    plan = _read(request)
    return {
        "code": plan.code,
        "title": plan.title,
        "title_en": plan.title_en,
        "issuing_bodies": plan.issuing_bodies,
        "document_date": plan.document_date,
        "published_on": plan.published_on,
        "source_document": plan.source_document,
        "starts_on": plan.starts_on,
        "ends_on": plan.ends_on,
        "sections": [{"number": s.number, "title": s.title} for s in plan.sections.all()],
        "measures": plan.measures.count(),
        "targets": plan.targets.count(),
    }


@router.get("/targets", response={200: list[dict], **ERRORS}, operation_id="plan_targets")
def targets(request: HttpRequest, on: dt.date | None = None):
    """Every target with its current value, series, progress and projection (as of ``on``)."""
    return selectors.targets_overview(_read(request), on)


@router.get("/targets/{code}", response={200: dict, **ERRORS}, operation_id="plan_target")
def target(request: HttpRequest, code: str, on: dt.date | None = None):
    return selectors.target_status(selectors.target_get(_read(request), code), on)


@router.get(
    "/targets/{code}/items", response={200: dict, **ERRORS}, operation_id="plan_target_items"
)
def target_items(
    request: HttpRequest, code: str, on: dt.date | None = None, limit: int = 100, offset: int = 0
):
    """The registry items behind a computed target's number on a day."""
    t = selectors.target_get(_read(request), code)
    day = on or dt.date.today()
    qs = selectors.metric_items(t, day).prefetch_related("subjects")
    limit = max(1, min(limit, 1000))
    return {
        "target": t.code,
        "as_of": day,
        "count": qs.count(),
        "items": [selectors.item_dict(i) for i in qs[offset : offset + limit]],
    }


@router.get("/tasks", response={200: list[dict], **ERRORS}, operation_id="plan_tasks")
def tasks(request: HttpRequest, department: str | None = None, status: str | None = None):
    plan = _read(request)
    rows = selectors.measure_list(
        user=request.auth, plan=plan, department=department, status=status
    )
    return [selectors.measure_dict(m) for m in rows]


@router.get("/reports", response={200: list[dict], **ERRORS}, operation_id="plan_reports")
def reports(
    request: HttpRequest,
    status: str | None = None,
    department: str | None = None,
    period: str | None = None,
    measure: str | None = None,
    limit: int = 200,
    offset: int = 0,
):
    """Progress reports (a department sees its own), with their history."""
    plan = _read(request)
    qs = selectors.report_list(
        user=request.auth,
        plan=plan,
        status=status,
        department=department,
        period=period,
        measure=measure,
    ).prefetch_related("events")
    limit = max(1, min(limit, 1000))
    return [selectors.report_dict(r) for r in qs[offset : offset + limit]]


class ReportIn(Schema):
    measure: str = Field(description="the measure's number, e.g. 二(三)")
    period: str = Field(description="the quarter, e.g. 2019Q3")
    task_status: str = Field(description="not_started, on_schedule, delayed or completed")
    narrative: str
    values: dict[str, float] = Field(default_factory=dict, description="target code → value")


@router.post("/reports", response={201: dict, **ERRORS}, operation_id="plan_report_submit")
def report_submit(request: HttpRequest, body: ReportIn):
    """File (or refile after a return) the caller's department's report on a measure."""
    require_scope(request.auth, "plan.report")
    plan = selectors.current_plan()
    measure = selectors.measure_get(user=request.auth, plan=plan, number=body.measure)
    report = services.report_submit(
        actor=request.auth,
        measure=measure,
        period=body.period,
        task_status=body.task_status,
        narrative=body.narrative,
        values=body.values,
    )
    return Status(201, selectors.report_dict(report))


@router.post(
    "/reports/{pk}/evidence", response={200: dict, **ERRORS}, operation_id="plan_report_evidence"
)
def report_evidence(request: HttpRequest, pk: int, files: File[list[UploadedFile]]):
    """Add evidence files (multipart ``files``) to the caller's submitted or returned report;
    each is kept with its SHA-256."""
    require_scope(request.auth, "plan.report")
    r = selectors.report_get(user=request.auth, pk=pk)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, f in enumerate(files):
            path = Path(tmp) / f"{i}-{Path(f.name or 'file').name}"
            with open(path, "wb") as out:
                for chunk in f.chunks():
                    out.write(chunk)
            paths.append((f.name or path.name, path))
        r = services.report_add_evidence(report=r, actor=request.auth, evidence=paths)
    return selectors.report_dict(r)


class ReviewIn(Schema):
    comment: str = ""


@router.post(
    "/reports/{pk}/accept", response={200: dict, **ERRORS}, operation_id="plan_report_accept"
)
def report_accept(request: HttpRequest, pk: int, body: ReviewIn):
    require_scope(request.auth, "plan.review")
    r = selectors.report_get(user=request.auth, pk=pk)
    return selectors.report_dict(
        services.report_accept(report=r, actor=request.auth, comment=body.comment)
    )


@router.post(
    "/reports/{pk}/return", response={200: dict, **ERRORS}, operation_id="plan_report_return"
)
def report_return(request: HttpRequest, pk: int, body: ReviewIn):
    require_scope(request.auth, "plan.review")
    r = selectors.report_get(user=request.auth, pk=pk)
    return selectors.report_dict(
        services.report_return(report=r, actor=request.auth, comment=body.comment)
    )


@router.get("/registries", response={200: list[dict], **ERRORS}, operation_id="plan_registries")
def registries(request: HttpRequest):
    _read(request)
    return selectors.registry_counts("standards") + selectors.registry_counts("brands")


class RegistryQuery(Schema):
    q: str = ""
    kind: str = Field("", description="sub-kind, e.g. well_known for brand_titles")
    limit: int = 100
    offset: int = 0


@router.get(
    "/registries/{kind}", response={200: dict, **ERRORS}, operation_id="plan_registry_items"
)
def registry_items(request: HttpRequest, kind: str, query: Query[RegistryQuery]):
    _read(request)
    if kind not in KINDS:
        raise NotFound(f"Unknown registry {kind!r}.", code="unknown_registry")
    qs = selectors.registry_items(kind, q=query.q, sub_kind=query.kind)
    limit = max(1, min(query.limit, 1000))
    return {
        "kind": kind,
        "count": qs.count(),
        "items": [selectors.item_dict(i) for i in qs[query.offset : query.offset + limit]],
    }


@router.post(
    "/registries/{kind}", response={200: dict, **ERRORS}, operation_id="plan_registry_load"
)
def registry_load(request: HttpRequest, kind: str, file: File[UploadedFile]):
    """Load a registry file (CSV, XLSX, JSON Lines); the same file again changes nothing."""
    require_scope(request.auth, "plan.registry")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(file.name or "upload.csv").name
        with open(path, "wb") as out:
            for chunk in file.chunks():
                out.write(chunk)
        return services.registry_load(kind=kind, path=path, name=file.name, actor=request.auth)


@router.get("/assessment/{year}", response={200: dict, **ERRORS}, operation_id="plan_assessment")
def assessment(request: HttpRequest, year: int):
    """The year's ranked tables of departments and of districts; each score with its
    components and their inputs."""
    a = selectors.assessment_get(_read(request), year)
    return {
        "year": a.year,
        "as_of": a.as_of,
        "scheme": a.scheme,
        "table": selectors.assessment_table(a),
        "districts": selectors.assessment_table(a, "district"),
    }


@router.get("/notices", response={200: list[dict], **ERRORS}, operation_id="plan_notices")
def notices(request: HttpRequest, status: str | None = None):
    plan = _read(request)
    return [
        {
            "id": n.pk,
            "department": n.department.code,
            "kind": n.kind,
            "measure": n.measure.number if n.measure_id else None,
            "target": n.target.code if n.target_id else None,
            "period": n.period,
            "issued_on": n.issued_on,
            "status": n.status,
            "reason": n.reason,
            "evidence": n.evidence,
            "response": n.response,
        }
        for n in selectors.notice_list(user=request.auth, plan=plan, status=status)
    ]
