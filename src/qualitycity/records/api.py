"""Ingestion API: submit a departmental file, follow its job, read submissions and errors.

``POST /api/v1/ingest/{dataset}`` takes a multipart ``file``. The submitter is the client's
department (an API key with the scope ``records.ingest``, or a signed-in data officer);
city-wide users name the department with ``?department=``. Small files are processed at once
(200 with the counts); larger ones go to the worker (202 with the job, to follow at
``GET /api/v1/jobs/{id}``). Submissions are visible to their own department only.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from qualitycity.core.errors import NotFound, PermissionDenied, ValidationFailed
from qualitycity.core.models import Department, Job
from qualitycity.core.permissions import require_scope

from . import services
from .catalogue import get_dataset
from .models import SourceFile

router = Router(tags=["ingestion"])


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class RefusalOut(Schema):
    code: str
    message: str
    details: Any = None


class IngestOut(Schema):
    accepted: int = Field(description="rows stored as new records (or new subjects)")
    rejected: int = Field(description="rows quarantined")
    duplicates: int = Field(description="rows identical to stored records (not an error)")
    updated: int = Field(description="rows that updated a stored record (newer version)")
    reasons: dict[str, int] = Field(description="reason code → count among rejected rows")
    rows: int
    submission_id: int | None = None
    status: str
    file: str
    dataset: str
    department: str
    sha256: str = ""
    resubmission: bool = Field(description="the same file was submitted before; nothing changed")
    dry_run: bool
    refused: bool
    refusal: RefusalOut | None = None


class JobOut(Schema):
    id: uuid.UUID
    kind: str
    title: str
    status: str
    total: int | None = None
    done: int
    unit: str
    percent: float | None = None
    eta_seconds: float | None = None
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    outcome: Any = None
    error: str = ""
    url: str


class SubmissionOut(Schema):
    id: int
    dataset: str
    department: str
    original_name: str
    sha256: str
    size: int
    file_format: str
    encoding: str
    channel: str
    status: str
    refusal_code: str
    refusal_message: str
    rows: int
    accepted: int
    rejected: int
    duplicates: int
    updated: int
    reasons: dict[str, int]
    submitted_at: dt.datetime
    received_at: dt.datetime = Field(description="when the department's submission was received")
    backfill: bool = Field(description="historical data migrated in; excluded from timeliness")
    processed_at: dt.datetime | None = None
    job_id: uuid.UUID | None = None
    errors_url: str


class SubmissionPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[SubmissionOut]


class SubmissionFilter(Schema):
    dataset: str | None = None
    status: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


def _job_out(job: Job) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "unit": job.unit,
        "percent": job.percent,
        "eta_seconds": job.eta_seconds,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "outcome": job.outcome,
        "error": job.error,
        "url": f"/api/v1/jobs/{job.pk}",
    }


def _submission_out(sf: SourceFile) -> dict[str, Any]:
    return {
        "id": sf.pk,
        "dataset": sf.dataset,
        "department": sf.department.code,
        "original_name": sf.original_name,
        "sha256": sf.sha256,
        "size": sf.size,
        "file_format": sf.file_format,
        "encoding": sf.encoding,
        "channel": sf.channel,
        "status": sf.status,
        "refusal_code": sf.refusal_code,
        "refusal_message": sf.refusal_message,
        "rows": sf.rows,
        "accepted": sf.accepted,
        "rejected": sf.rejected,
        "duplicates": sf.duplicates,
        "updated": sf.updated,
        "reasons": sf.reasons or {},
        "submitted_at": sf.created_at,
        "received_at": sf.received_at,
        "backfill": sf.backfill,
        "processed_at": sf.processed_at,
        "job_id": sf.job_id,
        "errors_url": f"/api/v1/submissions/{sf.pk}/errors.csv",
    }


def _submitting_department(actor: Any, code: str | None) -> Department:
    own = getattr(actor, "department", None)
    if code and (own is None or code != own.code):
        if not getattr(actor, "is_citywide", False):
            raise PermissionDenied(
                "You may submit files for your own department only.",
                code="forbidden_department",
            )
        dept = Department.objects.filter(code=code).first()
        if dept is None:
            raise NotFound(f"Unknown department: {code}", code="unknown_department")
        return dept
    if own is None:
        raise ValidationFailed(
            "Name the submitting department with ?department=.", code="department_required"
        )
    return own


@router.post(
    "/ingest/{dataset}",
    operation_id="ingest_file",
    summary="Submit a departmental file (CSV, XLSX or JSON Lines) for a dataset",
    response={
        200: IngestOut,
        202: JobOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
    },
)
def ingest(
    request: HttpRequest,
    dataset: str,
    file: UploadedFile = File(...),  # noqa: B008
    department: str | None = None,
    dry_run: bool = False,
    received_at: str | None = Form(  # noqa: B008
        None,
        description="when the submission was received: YYYY-MM-DD[THH:MM] (local time) or "
        "ISO 8601; default now; city-wide roles only",
    ),
    backfill: bool = Form(  # noqa: B008
        False,
        description="historical data migrated into the platform (excluded from timeliness); "
        "city-wide roles only",
    ),
):
    """Small files are ingested at once (200); larger ones run as a job (202).

    A file refused for its content (empty, wrong header, truncated, binary, unknown format)
    is still answered 200 with ``refused: true`` and the refusal: the submission is kept.
    The form fields ``received_at`` and ``backfill`` are an operator's statements: a
    department's key or officer gets 403 ``received_at_not_allowed`` / ``backfill_not_allowed``;
    a receipt time in the future is 400 ``received_at_in_future``.
    """
    actor = request.auth
    require_scope(actor, "records.ingest")
    ds = get_dataset(dataset)  # 404 unknown_dataset
    when = services.parse_received_at(received_at)
    services.submission_check(actor=actor, received_at=when, backfill=backfill)
    dept = _submitting_department(actor, department)
    # The service refuses a dataset the department may not submit (403) before keeping anything.
    outcome = services.ingest_upload(
        upload=file,
        department=dept,
        dataset=ds.code,
        actor=actor,
        channel=SourceFile.Channel.API,
        original_name=file.name or f"{ds.code}.csv",
        dry_run=dry_run,
        received_at=when,
        backfill=backfill,
        allow_sync=True,
    )
    if isinstance(outcome, Job):
        return Status(202, _job_out(outcome))
    return Status(200, outcome.as_dict())


@router.get(
    "/jobs/{job_id}",
    operation_id="job_get",
    summary="Progress and outcome of a job",
    response={200: JobOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def job_get(request: HttpRequest, job_id: uuid.UUID):
    require_scope(request.auth, "jobs.read")
    job = Job.objects.restrict(request.auth, "view").filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.", code="unknown_job")
    return _job_out(job)


def _submissions(actor: Any):
    return SourceFile.objects.restrict(actor, "view").select_related("department")


def _submission(actor: Any, pk: int) -> SourceFile:
    sf = _submissions(actor).filter(pk=pk).first()
    if sf is None:
        raise NotFound("No such submission.", code="unknown_submission")
    return sf


@router.get(
    "/submissions",
    operation_id="submission_list",
    summary="Submissions of the caller's department (all departments for city-wide roles)",
    response={200: SubmissionPage, 401: ErrorOut, 403: ErrorOut},
)
def submission_list(request: HttpRequest, filters: Query[SubmissionFilter]):
    require_scope(request.auth, "records.read")
    qs = _submissions(request.auth)
    if filters.dataset:
        qs = qs.filter(dataset=filters.dataset)
    if filters.status:
        qs = qs.filter(status=filters.status)
    total = qs.count()
    page = qs.order_by("-created_at", "-pk")[filters.offset : filters.offset + filters.limit]
    return {
        "total": total,
        "limit": filters.limit,
        "offset": filters.offset,
        "items": [_submission_out(sf) for sf in page],
    }


@router.get(
    "/submissions/{submission_id}",
    operation_id="submission_get",
    summary="One submission with its counts",
    response={200: SubmissionOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def submission_get(request: HttpRequest, submission_id: int):
    require_scope(request.auth, "records.read")
    return _submission_out(_submission(request.auth, submission_id))


@router.get(
    "/submissions/{submission_id}/errors.csv",
    operation_id="submission_errors_csv",
    summary="The per-row error report of a submission (CSV, one line per reason)",
    response={401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
)
def submission_errors_csv(request: HttpRequest, submission_id: int):
    require_scope(request.auth, "records.read")
    sf = _submission(request.auth, submission_id)
    response = StreamingHttpResponse(
        services.quarantine_report_csv(sf), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="submission-{sf.pk}-errors.csv"'
    return response
