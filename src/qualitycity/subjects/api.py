"""The registry search: ``GET /api/v1/subjects?q=…``.

Open to the public (rate-limited) like a national credit lookup site: natural persons' names
and ID numbers are masked unless the caller is staff with the scope ``subjects.read``; every
unmasked person in an answer is recorded in ``PersonalDataAccess``. The credit file of one
subject (``GET /api/v1/subjects/{code}``) belongs to the records app.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from qualitycity.core.api import public_auth

from . import selectors
from .identifiers import mask_person_name, mask_resident_id, normalize_code

router = Router(tags=["subjects"])

_ID_LIKE = re.compile(r"\d{14,17}[\dX]")


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class LabelOut(Schema):
    zh: str
    en: str


class SubjectHitOut(Schema):
    code: str = Field(description="USCC, or the resident ID number (masked for the public)")
    kind: str = Field(description="legal or person")
    name: str = Field(description="current name (a person's is masked for the public)")
    subject_type: str
    subject_type_label: LabelOut | None = None
    district: str
    district_label: LabelOut | None = None
    industry: str
    industry_label: LabelOut | None = None
    legal_representative: str
    registered_on: datetime.date | None = None
    status: str
    status_label: LabelOut | None = None
    masked: bool = Field(description="true when personal data in this item is masked")
    match: str = Field(description=f"why it matched: one of {', '.join(selectors.MATCH_KINDS)}")
    matched_name: str | None = Field(None, description="the former name that matched")


class SearchOut(Schema):
    query: str
    total: int = Field(description="number of matches; a lower bound when `capped`")
    capped: bool
    limit: int
    offset: int
    items: list[SubjectHitOut]


class SearchParams(Schema):
    q: str = Field(
        ...,
        description="a code (exact or a prefix of 4+ characters) or 2+ characters of a name",
    )
    limit: int = Field(20, ge=1, le=selectors.MAX_LIMIT)
    offset: int = Field(0, ge=0, le=selectors.MAX_OFFSET)


def search_payload(result: selectors.SearchResult, *, unmasked: bool) -> dict[str, Any]:
    """The JSON body of a search answer (also used by the CLI)."""
    items = []
    for hit in result.items:
        item = selectors.subject_public_dict(hit.subject, unmasked=unmasked)
        item["match"] = hit.match
        matched = hit.matched_name
        if matched and item["masked"]:
            matched = mask_person_name(matched)
        item["matched_name"] = matched
        items.append(item)
    query = result.query
    if not unmasked and _ID_LIKE.fullmatch(normalize_code(query)):
        query = mask_resident_id(query)  # never echo a resident ID number to the public
    return {
        "query": query,
        "total": result.total,
        "capped": result.capped,
        "limit": result.limit,
        "offset": result.offset,
        "items": items,
    }


@router.get(
    "",
    auth=public_auth,
    response={200: SearchOut, 400: ErrorOut, 401: ErrorOut, 422: ErrorOut, 429: ErrorOut},
    operation_id="subjects_search",
    summary="Search the subject registry",
    description=(
        "By code (exact first, then codes starting with 4+ characters), by 2 or more "
        "characters of a name, and by former name. Ranked: exact code, code prefix, name "
        "prefix, former-name prefix, name substring, former-name substring; within a rank "
        "shorter names first. A query shorter than 2 characters answers 400 "
        "`query_too_short`. Without a key (or without the scope `subjects.read`) natural "
        "persons' names and ID numbers are masked; unmasked answers are audited."
    ),
)
def subjects_search(request: HttpRequest, params: Query[SearchParams]):
    actor = request.auth
    unmasked = selectors.sees_personal_data(actor)
    result = selectors.subject_search(q=params.q, limit=params.limit, offset=params.offset)
    if unmasked:
        selectors.personal_data_access_record(
            actor=actor, subjects=[h.subject for h in result.items], purpose="api:subjects_search"
        )
    return search_payload(result, unmasked=unmasked)
