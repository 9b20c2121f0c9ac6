"""The credit file of one subject: ``GET /api/v1/subjects/{code}``.

Mounted by ``qualitycity.urls`` at ``/subjects`` beside the subjects router (which owns the
search). The public may call it without a key (rate-limited, public records only, personal
data masked); a key with ``subjects.read`` gets the full view.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from qualitycity.core.api import public_auth
from qualitycity.core.errors import ValidationFailed
from qualitycity.core.permissions import is_staff_actor, require_scope

from . import selectors

router = Router(tags=["credit files"])


class ErrorOut(Schema):
    code: str
    message: str
    details: Any = None


class CategoryOut(Schema):
    category: str
    label: str
    total: int = Field(description="records of the category; more than listed when capped")
    records: list[dict[str, Any]]


class CreditFileOut(Schema):
    subject: dict[str, Any]
    masked: bool
    record_count: int
    counts: dict[str, int]
    categories: list[CategoryOut]


@router.get(
    "/{code}",
    auth=public_auth,
    response={200: CreditFileOut, 400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    operation_id="credit_file",
    summary="The credit file of a subject",
    description=(
        "Registry data and every record the caller may see, grouped by category, newest first. "
        "Without a key: the public view (public records only, natural persons' names and ID "
        "numbers masked). With a key carrying `subjects.read`: the full view, with the source "
        "file of each record; unmasked personal data is audited. A code that fails a check "
        "answers 400 with the check as `code` (`bad_length`, `bad_characters`, `bad_authority`, "
        "`bad_division`, `bad_org_check`, `bad_check`, `bad_birth_date`, …); a valid code that "
        "is not registered answers 404 `subject_not_registered`. `per_category` lists only "
        "the newest records of each category (its `total` still counts them all)."
    ),
)
def credit_file_get(request: HttpRequest, code: str, per_category: int | None = None):
    actor = request.auth
    if is_staff_actor(actor):
        require_scope(actor, "subjects.read")
    subject = selectors.subject_for_code(code=code)
    if per_category is not None and per_category < 1:
        raise ValidationFailed(
            "per_category must be 1 or more.",
            code="invalid_per_category",
            details={"field": "per_category"},
        )
    return selectors.credit_file(
        subject=subject, actor=actor, purpose="api:credit_file", per_category=per_category
    ).as_dict()
