"""Credit evaluation API: a subject's class and why, runs, their comparison, scorecards.

Everything here needs ``credit.read`` (starting a run: ``credit.evaluate``). The class is a
supervision tool, not a publication: the public gets 401 and a key without the scope 403.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from qualitycity.core.errors import NotFound
from qualitycity.core.permissions import require_scope
from qualitycity.records.api import JobOut, _job_out
from qualitycity.records.selectors import subject_for_code

from . import selectors, services
from .scorecard import scorecards

router = Router(tags=["credit evaluation"])
subject_router = Router(tags=["credit evaluation"])


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class IndicatorOut(Schema):
    id: str
    label: str
    kind: str
    basis: str
    value: Any = Field(
        description="count (recency-weighted when the indicator has bands), 1 for 'exists', "
        "whole yuan for sums, days since registration for age, the status for status"
    )
    value_text: str
    points: str = Field(description="points added to the base score (negative: deducted)")
    records_total: int
    records_hidden: int = Field(
        description="records behind it that the caller may not see (other departments' "
        "non-public records); they are counted, not listed"
    )
    records: list[dict[str, Any]] = Field(description="the newest records behind it (≤ 20)")


class EvaluationOut(Schema):
    subject_code: str
    risk_class: str = Field(description="A low, B general, C higher, D high risk")
    score: str
    previous_class: str | None = Field(description="the class in the run before (if any)")
    scorecard: dict[str, Any]
    base_score: str
    override: dict[str, Any] | None = Field(
        description="a condition that decided the class whatever the score"
    )
    indicators: list[IndicatorOut] = Field(
        description="the indicators that moved the score, largest deduction first"
    )
    run: dict[str, Any]


class EvaluateIn(Schema):
    engine: str = Field("duckdb", description="duckdb, sqlite or spark")
    as_of: dt.date | None = Field(None, description="default today; never in the future")
    scorecard: str | None = Field(None, description="one scorecard id; default all in force")


class RunOut(Schema):
    run_id: int
    engine: str
    as_of: str
    status: str
    scorecards: list[str]
    subjects_evaluated: int
    class_counts: dict[str, int]
    override_counts: dict[str, int]
    records_read: int
    latest_record_at: str | None
    previous_run_id: int | None
    timings: dict[str, float]


class RunDetailOut(RunOut):
    error: str = ""
    comparison: dict[str, Any] | None = None


@subject_router.get(
    "/{code}/evaluation",
    operation_id="subject_evaluation",
    summary="A subject's credit-risk class and why",
    response={200: EvaluationOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    description=(
        "The class from the latest completed evaluation run, its score, the scorecard version, "
        "the override applied if any and every indicator that moved the score with the records "
        "behind it. Needs `credit.read`. 404 `subject_not_registered` for an unknown code; "
        "404 `not_evaluated` when no run has evaluated the subject (natural persons are not "
        "classified; cancelled subjects and subjects registered after the as-of date are not "
        "evaluated)."
    ),
)
def subject_evaluation(request: HttpRequest, code: str):
    actor = request.auth
    require_scope(actor, "credit.read")
    subject = subject_for_code(code=code)
    evaluation = selectors.subject_evaluation(actor=actor, subject=subject)
    if evaluation is None:
        raise NotFound(
            f"No evaluation run has evaluated {code}.",
            code="not_evaluated",
            details={"subject_type": subject.subject_type, "status": subject.status},
        )
    return evaluation.as_dict()


@router.post(
    "/evaluations",
    operation_id="evaluation_start",
    summary="Start an evaluation run (a job)",
    response={
        202: JobOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
    },
    description=(
        "Queues the evaluation; follow it at `GET /api/v1/jobs/{id}`; its outcome names the "
        "run. Needs `credit.evaluate`. Refusals: 400 `unknown_engine`, `as_of_in_future`; "
        "404 `unknown_scorecard`, `no_scorecard_in_force`; 409 `nothing_to_evaluate`, "
        "`engine_unavailable`."
    ),
)
def evaluation_start(request: HttpRequest, payload: EvaluateIn):
    actor = request.auth
    require_scope(actor, "credit.evaluate")
    job = services.evaluation_start(
        engine=payload.engine, as_of=payload.as_of, scorecard=payload.scorecard, user=actor
    )
    return Status(202, _job_out(job))


@router.get(
    "/evaluations",
    operation_id="evaluation_list",
    summary="Evaluation runs, newest first",
    response={200: list[RunOut], 401: ErrorOut, 403: ErrorOut},
)
def evaluation_list(request: HttpRequest, limit: int = 50):
    require_scope(request.auth, "credit.read")
    return [services.run_summary(r) for r in selectors.run_list(actor=request.auth, limit=limit)]


@router.get(
    "/evaluations/{run_id}",
    operation_id="evaluation_get",
    summary="One run, with how subjects moved since the run before",
    response={200: RunDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def evaluation_get(request: HttpRequest, run_id: int):
    actor = request.auth
    require_scope(actor, "credit.read")
    run = selectors.run_get(actor=actor, pk=run_id)
    out = {**services.run_summary(run), "error": run.error}
    if run.status == run.Status.DONE:
        out["comparison"] = selectors.run_comparison(actor=actor, run=run)
    return out


@router.get(
    "/scorecards",
    operation_id="scorecard_list",
    summary="The scorecards shipped, with their versions and dates",
    response={200: list[dict[str, Any]], 401: ErrorOut, 403: ErrorOut},
)
def scorecard_list(request: HttpRequest):
    require_scope(request.auth, "credit.read")
    return [
        {
            **c.summary(),
            "classes": [{"class": b.risk_class, "min": b.min, "below": b.below} for b in c.classes],
            "indicators": [
                {
                    "id": i.id,
                    "kind": i.kind,
                    "label_zh": i.label_zh,
                    "label_en": i.label_en,
                    "points": i.points,
                    "cap": i.cap,
                    "basis": i.basis,
                }
                for i in c.indicators
            ],
            "overrides": [
                {
                    "id": o.id,
                    "class": o.risk_class,
                    "reason_zh": o.reason_zh,
                    "reason_en": o.reason_en,
                }
                for o in c.overrides
            ],
        }
        for c in scorecards()
    ]
