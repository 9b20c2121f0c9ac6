"""The check-before-act API: ``/api/v1/discipline/…``.

Department business systems ask before they act ("may we grant this subsidy?"): ``POST /check``
(one subject) or ``POST /check/batch`` (up to 10,000), with a key carrying ``discipline.check``;
``POST /feedback`` (``discipline.feedback``) records what they did. ``GET /stats`` gives the
measured effect; ``GET /measures`` and ``GET /scenarios`` the catalogue.

The single check is the hot path: its answer is serialised with orjson straight into the
response (the schemas below document it), not validated again on the way out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from qualitycity.core.api import public_auth
from qualitycity.core.errors import ValidationFailed
from qualitycity.core.permissions import require_scope

from . import selectors, services
from .catalogue import catalogue

router = Router(tags=["joint reward and punishment"])


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class CheckIn(Schema):
    subject: str = Field(description="USCC or resident ID number (spaces and dashes ignored)")
    scenario: str = Field(description="a scenario code of GET /api/v1/discipline/scenarios")
    department: str | None = Field(
        None, description="the checking department's code; an API client's own by default"
    )
    date: dt.date | None = Field(None, description="the day the check is about; today by default")


class BatchIn(Schema):
    subjects: list[str] = Field(description="up to 10,000 codes; answered in this order")
    scenario: str
    department: str | None = None
    date: dt.date | None = None


class ListOut(Schema):
    entry_id: int
    list: str = Field(description="list code")
    name_zh: str
    name_en: str
    kind: Literal["red", "black", "watch"]
    department: str = Field(description="the department that owns the list")
    published_on: dt.date | None
    ends_on: dt.date | None = Field(description="publication ends on this day (not in force)")


class MeasureOut(Schema):
    id: str
    kind: Literal["punishment", "reward"]
    text_zh: str
    text_en: str
    legal_basis: str
    department: str | None = Field(
        description="implementing department; null: every department deciding in the scenario"
    )
    effective_from: dt.date
    effective_to: dt.date | None = Field(description="first day no longer in force")
    triggered_by: list[str] = Field(description="the lists in force that trigger it")


class CheckOut(Schema):
    subject: str = Field(description="the normalised code")
    registered: bool
    status: Literal["listed", "clean", "not_registered"] = Field(
        description="listed: on at least one list; clean: registered, on none; "
        "not_registered: a valid code no department registered (not the same as clean)"
    )
    lists: list[ListOut]
    measures: list[MeasureOut]
    scenario: str
    date: dt.date
    department: str
    data_version: str = Field(
        description="catalogue digest . last list entry id . last list event id: the answer "
        "is determined by this version and the date"
    )
    check_id: int


class BatchItemOut(Schema):
    subject: str
    registered: bool
    status: Literal["listed", "clean", "not_registered", "invalid"]
    error: ErrorOut | None = None
    lists: list[ListOut]
    measures: list[MeasureOut]
    check_id: int | None


class BatchOut(Schema):
    scenario: str
    date: dt.date
    department: str
    data_version: str
    count: int
    results: list[BatchItemOut]


class FeedbackIn(Schema):
    check_id: int
    measure_id: str
    applied: bool
    reason: str = Field("", description="why (required when not applied)")


class FeedbackOut(Schema):
    id: int
    check_id: int
    measure_id: str
    applied: bool
    reason: str
    department: str
    created: bool = Field(description="false: this corrected an earlier answer")


class StatsFilter(Schema):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    department: str | None = None


class ScenarioOut(Schema):
    code: str
    name_zh: str
    name_en: str


ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut, 429: ErrorOut}


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), content_type="application/json", status=status)


@router.post(
    "/check",
    response={200: CheckOut, **ERRORS},
    operation_id="discipline_check",
    summary="Check a subject before acting",
    description=(
        "The lists the subject is on **in force on the date**, and the measures that apply in the "
        "scenario on that date, each with its legal basis. Every check is logged; `check_id` is "
        "for `POST /feedback`. A malformed code answers 400 with the failed identifier check as "
        "`code` (`bad_length`, `bad_check`, …); an unknown scenario 400 `unknown_scenario` with "
        "the valid ones in `details.valid`; an unknown department 400 `unknown_department`. "
        "Needs the scope `discipline.check`."
    ),
)
def check(request: HttpRequest, payload: CheckIn):
    require_scope(request.auth, "discipline.check")
    checker = services.checker_for(request.auth, payload.department)
    return _json(
        services.check_run(
            checker=checker, code=payload.subject, scenario=payload.scenario, on=payload.date
        )
    )


@router.post(
    "/check/batch",
    response={200: BatchOut, **ERRORS},
    operation_id="discipline_check_batch",
    summary="Check up to 10,000 subjects",
    description=(
        "One answer per subject, in the order given, each with its own `check_id`. A malformed "
        "code gets `status: invalid` and its `error` (no check is logged for it). At most "
        "10,000 subjects (`batch_too_large`). Needs the scope `discipline.check`."
    ),
)
def check_batch(request: HttpRequest, payload: BatchIn):
    require_scope(request.auth, "discipline.check")
    checker = services.checker_for(request.auth, payload.department)
    return _json(
        services.check_batch_run(
            checker=checker, codes=payload.subjects, scenario=payload.scenario, on=payload.date
        )
    )


@router.post(
    "/feedback",
    response={200: FeedbackOut, 201: FeedbackOut, 404: ErrorOut, **ERRORS},
    operation_id="discipline_feedback",
    summary="Record what the department did with a measure",
    description=(
        "Whether a measure a check returned was applied, and why not (a reason is required "
        "then). Only the client that made the check, or its department, may answer; answering "
        "again corrects the earlier answer (200; the first answer is 201). Needs the scope "
        "`discipline.feedback`."
    ),
)
def feedback(request: HttpRequest, payload: FeedbackIn):
    require_scope(request.auth, "discipline.feedback")
    fb, created = services.feedback_record(
        actor=request.auth,
        check_id=payload.check_id,
        measure_id=payload.measure_id,
        applied=payload.applied,
        reason=payload.reason,
    )
    body = {
        "id": fb.pk,
        "check_id": fb.check_ref_id,
        "measure_id": fb.measure_id,
        "applied": fb.applied,
        "reason": fb.reason,
        "department": fb.department.code,
        "created": created,
    }
    return Status(201 if created else 200, body)


@router.get(
    "/stats",
    response={200: dict[str, Any], **ERRORS},
    operation_id="discipline_stats",
    summary="Checks, hits and measures applied",
    description=(
        "Per department, scenario, list and measure: checks, hits (checks with at least one "
        "list in force), checks of unregistered codes, measures returned and measures applied or "
        "not (from feedback), for checks made from `date_from` to `date_to` (inclusive). "
        "City-wide users see every department; a client or department user its own. Needs the "
        "scope `discipline.check`."
    ),
)
def stats(request: HttpRequest, filters: Query[StatsFilter]):
    require_scope(request.auth, "discipline.check")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise ValidationFailed(
            "date_from comes after date_to.", code="bad_date_range", details={"field": "date_from"}
        )
    return selectors.check_stats(
        actor=request.auth,
        date_from=filters.date_from,
        date_to=filters.date_to,
        department=filters.department,
    )


@router.get(
    "/measures",
    auth=public_auth,
    response={200: list[dict[str, Any]], 400: ErrorOut, 429: ErrorOut},
    operation_id="discipline_measures",
    summary="The measures catalogue",
    description=(
        "Every measure (each dated version), or those in force on `date`: kind, text, legal "
        "basis, implementing department, scenarios, triggering lists, effective dates."
    ),
)
def measures(request: HttpRequest, date: dt.date | None = None):
    cat = catalogue()
    items = cat.in_force(date) if date else list(cat.measures)
    return [m.as_dict() for m in items]


@router.get(
    "/scenarios",
    auth=public_auth,
    response={200: list[ScenarioOut], 429: ErrorOut},
    operation_id="discipline_scenarios",
    summary="The business scenarios a check is made for",
)
def scenarios(request: HttpRequest):
    return [s.as_dict() for s in catalogue().scenarios.values()]
