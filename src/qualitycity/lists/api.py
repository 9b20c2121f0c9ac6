"""Lists API: the catalogue and the entries in force (public), and the lifecycle for staff.

Public (no key needed, rate-limited): ``GET /api/v1/lists`` and
``GET /api/v1/lists/{list}/entries`` — natural persons masked. Staff: reading entries in every
state needs ``lists.read``; proposing, moving entries and deciding objections and repairs needs
``lists.decide`` and, except for city-wide roles, belonging to the list's owning department
(403 ``forbidden_department``). Filing objections and repair applications needs
``lists.object`` (the enterprise user bound to the subject, or staff on its behalf).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from qualitycity.core.api import public_auth
from qualitycity.core.errors import NotFound
from qualitycity.core.permissions import require_scope
from qualitycity.records.api import JobOut, _job_out
from qualitycity.records.models import Record
from qualitycity.subjects.selectors import subject_get

from . import selectors, services

router = Router(tags=["lists"])


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class SubjectBriefOut(Schema):
    code: str = Field(description="USCC, or the resident ID number (masked for natural persons)")
    name: str
    kind: str = Field(description="legal or person")
    masked: bool


class ListBriefOut(Schema):
    code: str
    name: str
    name_zh: str
    name_en: str
    kind: str = Field(description="red, black or watch")


class ListOut(Schema):
    code: str
    name: str
    name_zh: str
    name_en: str
    kind: str = Field(description="red (incentives), black (serious dishonesty) or watch")
    field: str = Field(description="the plan's key field")
    department: str = Field(description="the owning department: only it decides entries")
    legal_basis: str
    level: str | None = Field(description="black/watch lists: the publication-period level")
    valid_months: int | None = Field(description="red lists: months an entry stays published")
    proposal_rule: dict[str, Any] | None = Field(
        description="records that propose an entry (never publish one)"
    )
    period: dict[str, Any] = Field(description="the publication period in force today")
    entries_in_force: int


class PublicEntryOut(Schema):
    id: int
    list: ListBriefOut
    subject: SubjectBriefOut
    department: str
    department_name: str
    reason: str
    legal_basis: str
    published_on: dt.date
    publication_ends_on: dt.date | None = Field(description="publication ends on this day")


class PublicEntryPage(Schema):
    list: dict[str, Any]
    on: dt.date
    total: int
    limit: int
    offset: int
    items: list[PublicEntryOut]


class PageParams(Schema):
    limit: int = Field(50, ge=1, le=selectors.PUBLIC_PAGE_MAX)
    offset: int = Field(0, ge=0)


class EntryOut(Schema):
    id: int
    list: ListBriefOut
    subject: SubjectBriefOut
    department: str
    state: str = Field(
        description="proposed, noticed, published, repaired, removed, expired or withdrawn"
    )
    origin: str = Field(description="rule or manual")
    reason: str
    legal_basis: str
    source_record_id: int | None = None
    proposed_at: dt.datetime
    noticed_at: dt.datetime | None = None
    notice_ends_on: dt.date | None = Field(None, description="last day to object to the notice")
    published_on: dt.date | None = None
    repair_allowed_from: dt.date | None = None
    publication_ends_on: dt.date | None = None
    ended_on: dt.date | None = None
    period_rule: dict[str, Any] | None = Field(None, description="the dated rule applied")


class EntryPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[EntryOut]


class EntryFilter(Schema):
    list: str | None = None
    state: str | None = None
    department: str | None = None
    subject: str | None = Field(None, description="a subject's code")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class ActorOut(Schema):
    kind: str = Field(description="user, api_client or system")
    name: str


class EventOut(Schema):
    id: int
    kind: str
    label: str
    from_state: str
    to_state: str
    at: dt.datetime
    actor: ActorOut
    source: str
    reason: str
    data: dict[str, Any]


class EvidenceOut(Schema):
    name: str
    sha256: str
    size: int


class ObjectionOut(Schema):
    id: int
    subject: SubjectBriefOut
    entry_id: int | None = None
    record_id: int | None = None
    department: str = Field(description="the deciding department")
    text: str
    evidence: list[EvidenceOut]
    status: str = Field(description="open, upheld, rejected or withdrawn")
    filed_by: str | None = None
    filed_at: dt.datetime
    due_on: dt.date
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    decision_reason: str
    overdue: bool
    overdue_flagged_at: dt.datetime | None = None


class RepairOut(Schema):
    id: int
    subject: SubjectBriefOut
    entry_id: int
    department: str = Field(description="the deciding (owning) department")
    commitment: str
    evidence: list[EvidenceOut]
    status: str = Field(description="open, approved or rejected")
    filed_by: str | None = None
    filed_at: dt.datetime
    due_on: dt.date
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    decision_reason: str
    overdue: bool
    overdue_flagged_at: dt.datetime | None = None


class EntryDetailOut(EntryOut):
    events: list[EventOut]
    objections: list[ObjectionOut]
    repairs: list[RepairOut]
    under_objection: bool
    can_decide: bool = Field(description="the caller may move this entry")
    actions: list[str] = Field(description="the transitions the caller may make now")


class ProposeIn(Schema):
    list: str
    subject: str = Field(description="the subject's code")
    reason: str
    source_record_id: int | None = Field(None, description="the record the proposal rests on")


class ReasonIn(Schema):
    reason: str = Field(description="required; recorded in the entry's history")


class ObjectionDecisionIn(Schema):
    upheld: bool
    reason: str


class RepairDecisionIn(Schema):
    approved: bool
    reason: str


class ProposeRunIn(Schema):
    on: dt.date | None = Field(None, description="the day the rules run; default today")
    lists: list[str] | None = Field(None, description="default: every list with a rule")


class RequestFilter(Schema):
    status: str | None = None
    department: str | None = None
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class OverdueOut(Schema):
    kind: str = Field(description="objection or repair")
    id: int
    department: str
    entry_id: int | None = None
    record_id: int | None = None
    subject: SubjectBriefOut
    filed_at: dt.datetime
    due_on: dt.date
    overdue_flagged_at: dt.datetime | None = None


def _errors(*codes: int) -> dict[int, type]:
    return dict.fromkeys(codes, ErrorOut)


# --- public -----------------------------------------------------------------------------------


@router.get(
    "",
    auth=public_auth,
    response={200: list[ListOut], **_errors(401, 429)},
    operation_id="lists_catalogue",
    summary="The catalogue of red, black and watch lists",
)
def lists_catalogue(request: HttpRequest):
    """Each list with its owning department, legal basis, the rule that proposes entries, the
    publication period in force and the number of entries in force today."""
    return selectors.catalogue_list()


# --- staff: entries (registered before /{list_code}/entries) ---------------------------------


def _entry(request: HttpRequest, entry_id: int):
    return selectors.entry_get(actor=request.auth, entry_id=entry_id)


def _entry_out(request: HttpRequest, entry) -> dict[str, Any]:
    masked = selectors.masked_for(request.auth, [entry.subject], "api:list_entry")
    return selectors.entry_dict(entry, masked=masked)


@router.get(
    "/entries",
    response={200: EntryPage, **_errors(400, 401, 403, 404)},
    operation_id="list_entries_staff",
    summary="List entries in every state (staff)",
)
def entries_staff(request: HttpRequest, filters: Query[EntryFilter]):
    """Needs ``lists.read``. Filters: ``list`` (404 ``unknown_list``), ``state`` (400
    ``unknown_state``), ``department``, ``subject`` (a code)."""
    require_scope(request.auth, "lists.read")
    subject = subject_get(code=filters.subject) if filters.subject else None
    return selectors.entry_page(
        actor=request.auth,
        limit=filters.limit,
        offset=filters.offset,
        purpose="api:list_entries",
        list_code=filters.list,
        state=filters.state,
        department=filters.department,
        subject=subject,
    )


@router.post(
    "/entries",
    response={201: EntryOut, **_errors(400, 401, 403, 404, 409)},
    operation_id="list_entry_propose",
    summary="Propose listing a subject (never publishes)",
)
def entry_propose(request: HttpRequest, payload: ProposeIn):
    """Needs ``lists.decide`` and the list's owning department. 409 ``entry_exists`` when the
    subject is already on the list or proposed for it."""
    actor = request.auth
    require_scope(actor, "lists.decide")
    subject = subject_get(code=payload.subject)
    record = None
    if payload.source_record_id is not None:
        record = Record.objects.filter(pk=payload.source_record_id).first()
        if record is None:
            raise NotFound("No such record.", code="unknown_record")
    entry = services.entry_propose(
        list_code=payload.list,
        subject=subject,
        reason=payload.reason,
        actor=actor,
        source_record=record,
    )
    return Status(201, _entry_out(request, entry))


@router.get(
    "/entries/{entry_id}",
    response={200: EntryDetailOut, **_errors(401, 403, 404)},
    operation_id="list_entry_get",
    summary="An entry with its history, objections and repair applications",
)
def entry_get(request: HttpRequest, entry_id: int):
    require_scope(request.auth, "lists.read")
    return selectors.entry_detail(actor=request.auth, entry_id=entry_id).as_dict()


def _transition(request: HttpRequest, entry_id: int, fn, reason: str):
    require_scope(request.auth, "lists.decide")
    entry = _entry(request, entry_id)
    entry = fn(entry=entry, actor=request.auth, reason=reason)
    return _entry_out(request, entry)


_TRANSITION_RESPONSES = {200: EntryOut, **_errors(400, 401, 403, 404, 409)}


@router.post(
    "/entries/{entry_id}/notice",
    response=_TRANSITION_RESPONSES,
    operation_id="list_entry_notice",
    summary="Give the subject notice of the intended listing (proposed → noticed)",
)
def entry_notice(request: HttpRequest, entry_id: int, payload: ReasonIn):
    """Sets ``notice_ends_on``, the last day the subject may object before publication."""
    return _transition(request, entry_id, services.entry_notice, payload.reason)


@router.post(
    "/entries/{entry_id}/publish",
    response=_TRANSITION_RESPONSES,
    operation_id="list_entry_publish",
    summary="Publish a noticed entry after the notice period (noticed → published)",
)
def entry_publish(request: HttpRequest, entry_id: int, payload: ReasonIn):
    """Dates from the period rule in force today. 409 ``notice_period_running`` (with
    ``publishable_from``), 409 ``objection_open``, 409 ``illegal_transition``."""
    return _transition(request, entry_id, services.entry_publish, payload.reason)


@router.post(
    "/entries/{entry_id}/withdraw",
    response=_TRANSITION_RESPONSES,
    operation_id="list_entry_withdraw",
    summary="Withdraw a proposal before publication (proposed/noticed → withdrawn)",
)
def entry_withdraw(request: HttpRequest, entry_id: int, payload: ReasonIn):
    return _transition(request, entry_id, services.entry_withdraw, payload.reason)


@router.post(
    "/entries/{entry_id}/remove",
    response=_TRANSITION_RESPONSES,
    operation_id="list_entry_remove",
    summary="End a publication by decision (published → removed)",
)
def entry_remove(request: HttpRequest, entry_id: int, payload: ReasonIn):
    return _transition(request, entry_id, services.entry_remove, payload.reason)


@router.post(
    "/entries/{entry_id}/repairs",
    response={201: RepairOut, **_errors(400, 401, 403, 404, 409)},
    operation_id="list_repair_apply",
    summary="Apply for credit repair of a published entry (multipart)",
)
def repair_apply(
    request: HttpRequest,
    entry_id: int,
    commitment: str = Form(...),  # noqa: B008
    files: list[UploadedFile] = File(...),  # noqa: B008
):
    """Needs ``lists.object`` (the subject's own user, or staff for it). 409
    ``repair_too_early`` (with ``repair_allowed_from``), ``repair_not_applicable`` (red lists),
    ``repair_open``."""
    require_scope(request.auth, "lists.object")
    entry = _entry(request, entry_id)
    application = services.repair_apply(
        actor=request.auth, entry=entry, commitment=commitment, evidence_files=files
    )
    return Status(201, selectors.repair_dict(application, masked=True))


@router.post(
    "/propose",
    response={202: JobOut, **_errors(400, 401, 403, 404)},
    operation_id="list_rules_run",
    summary="Run the lists' proposal rules (a job)",
)
def rules_run(request: HttpRequest, payload: ProposeRunIn):
    """City-wide roles run every rule; a department's key the rules of its own lists. The job
    only proposes: nothing is published."""
    require_scope(request.auth, "lists.decide")
    job = services.entries_propose_start(
        actor=request.auth, on=payload.on, list_codes=payload.lists
    )
    return Status(202, _job_out(job))


# --- objections and repairs ------------------------------------------------------------------


def _page(request: HttpRequest, qs, params: RequestFilter, fn, purpose: str) -> dict[str, Any]:
    total = qs.count()
    items = list(qs[params.offset : params.offset + params.limit])
    masked = selectors.masked_for(request.auth, [i.subject for i in items], purpose)
    return {
        "total": total,
        "limit": params.limit,
        "offset": params.offset,
        "items": [fn(i, masked=masked) for i in items],
    }


def _evidence_response(obj, sha256: str) -> FileResponse:
    path, name = selectors.evidence_file(obj=obj, sha256=sha256)
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


class ObjectionPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ObjectionOut]


class RepairPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[RepairOut]


@router.get(
    "/objections",
    response={200: ObjectionPage, **_errors(401, 403)},
    operation_id="list_objections",
    summary="Objections the caller may see (the deciding department's, or its own subject's)",
)
def objections(request: HttpRequest, params: Query[RequestFilter]):
    require_scope(request.auth, "lists.read")
    qs = selectors.objection_list(
        actor=request.auth, status=params.status, department=params.department
    )
    return _page(request, qs, params, selectors.objection_dict, "api:list_objections")


@router.post(
    "/objections",
    response={201: ObjectionOut, **_errors(400, 401, 403, 404, 409)},
    operation_id="list_objection_file",
    summary="Object to a list entry or a credit record (multipart)",
)
def objection_file(
    request: HttpRequest,
    text: str = Form(...),  # noqa: B008
    entry_id: int | None = Form(None),  # noqa: B008
    record_id: int | None = Form(None),  # noqa: B008
    files: list[UploadedFile] = File(None),  # noqa: B008
):
    """Needs ``lists.object`` (the subject's own user, or staff for it). Give ``entry_id`` or
    ``record_id``. 409 ``objection_open``, 409 ``illegal_transition`` (an entry not noticed or
    published)."""
    actor = request.auth
    require_scope(actor, "lists.object")
    entry = _entry(request, entry_id) if entry_id is not None else None
    record = None
    if record_id is not None:
        record = Record.objects.restrict(actor, "view").filter(pk=record_id).first()
        if record is None:
            raise NotFound("No such record.", code="unknown_record")
    objection = services.objection_file(
        actor=actor, entry=entry, record=record, text=text, evidence_files=files or []
    )
    return Status(201, selectors.objection_dict(objection, masked=True))


@router.get(
    "/objections/{objection_id}/evidence/{sha256}",
    response={**_errors(401, 403, 404)},
    operation_id="list_objection_evidence",
    summary="Download one evidence file of an objection",
)
def objection_evidence(request: HttpRequest, objection_id: int, sha256: str):
    """For those who may see the objection: the deciding department, the subject, city-wide
    roles."""
    require_scope(request.auth, "lists.read")
    objection = selectors.objection_get(actor=request.auth, objection_id=objection_id)
    return _evidence_response(objection, sha256)


@router.post(
    "/objections/{objection_id}/decision",
    response={200: ObjectionOut, **_errors(400, 401, 403, 404, 409)},
    operation_id="list_objection_decide",
    summary="Uphold or reject an objection (the deciding department)",
)
def objection_decide(request: HttpRequest, objection_id: int, payload: ObjectionDecisionIn):
    """Upheld against a published entry: the entry is removed (a noticed one withdrawn)."""
    require_scope(request.auth, "lists.decide")
    objection = selectors.objection_get(actor=request.auth, objection_id=objection_id)
    objection = services.objection_decide(
        actor=request.auth, objection=objection, upheld=payload.upheld, reason=payload.reason
    )
    return selectors.objection_dict(objection, masked=True)


@router.get(
    "/repairs",
    response={200: RepairPage, **_errors(401, 403)},
    operation_id="list_repairs",
    summary="Credit-repair applications the caller may see",
)
def repairs(request: HttpRequest, params: Query[RequestFilter]):
    require_scope(request.auth, "lists.read")
    qs = selectors.repair_list(
        actor=request.auth, status=params.status, department=params.department
    )
    return _page(request, qs, params, selectors.repair_dict, "api:list_repairs")


@router.get(
    "/repairs/{repair_id}/evidence/{sha256}",
    response={**_errors(401, 403, 404)},
    operation_id="list_repair_evidence",
    summary="Download one evidence file of a repair application",
)
def repair_evidence(request: HttpRequest, repair_id: int, sha256: str):
    require_scope(request.auth, "lists.read")
    application = selectors.repair_get(actor=request.auth, repair_id=repair_id)
    return _evidence_response(application, sha256)


@router.post(
    "/repairs/{repair_id}/decision",
    response={200: RepairOut, **_errors(400, 401, 403, 404, 409)},
    operation_id="list_repair_decide",
    summary="Approve or reject a credit-repair application (the owning department)",
)
def repair_decide(request: HttpRequest, repair_id: int, payload: RepairDecisionIn):
    """Approval ends the publication (the entry becomes repaired)."""
    require_scope(request.auth, "lists.decide")
    application = selectors.repair_get(actor=request.auth, repair_id=repair_id)
    application = services.repair_decide(
        actor=request.auth,
        application=application,
        approved=payload.approved,
        reason=payload.reason,
    )
    return selectors.repair_dict(application, masked=True)


@router.get(
    "/overdue",
    response={200: list[OverdueOut], **_errors(401, 403)},
    operation_id="list_overdue",
    summary="Objections and repair applications past their decision deadline",
)
def overdue(request: HttpRequest, department: str | None = None):
    """A department's officers and keys see their own; the quality office sees all."""
    require_scope(request.auth, "lists.read")
    return selectors.overdue_items(actor=request.auth, department=department)


# --- public entries of one list (last: its path has a variable first segment) ---------------


@router.get(
    "/{list_code}/entries",
    auth=public_auth,
    response={200: PublicEntryPage, **_errors(401, 404, 422, 429)},
    operation_id="list_entries_public",
    summary="The entries of a list in force today (public, paginated)",
)
def entries_public(request: HttpRequest, list_code: str, params: Query[PageParams]):
    """Published entries whose publication has not ended, newest first; natural persons'
    names and ID numbers masked. 404 ``unknown_list``."""
    return selectors.public_entries(list_code=list_code, limit=params.limit, offset=params.offset)
