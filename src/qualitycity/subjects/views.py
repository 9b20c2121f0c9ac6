"""Web pages of the subject registry: the staff search (live with htmx, a plain GET form
without JavaScript). Thin: parse, call the selector, render."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language

from qualitycity.core.errors import ValidationFailed

from . import selectors
from .codelists import DISTRICTS
from .identifiers import mask_person_name, mask_resident_id

PAGE_SIZE = 20


def credit_file_url(code: str) -> str:
    """The credit file page of a subject (the records app's), or its planned address."""
    try:
        return reverse("records:credit_file", args=[code])
    except NoReverseMatch:
        return f"/records/files/{code}/"


def _district_name(code: str) -> str:
    entry = DISTRICTS.get(code)
    if not entry:
        return code
    return entry[1] if (get_language() or "").startswith("en") else entry[0]


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


@login_required
def search(request: HttpRequest) -> HttpResponse:
    """Search by code, name fragment or former name; results link to the credit file."""
    q = (request.GET.get("q") or "").strip()
    page = _page_number(request)
    unmasked = selectors.sees_personal_data(request.user)
    context: dict = {"q": q, "page": page, "result": None, "error": None, "rows": []}
    if q:
        try:
            result = selectors.subject_search(q=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        except ValidationFailed as exc:
            context["error"] = exc
        else:
            if unmasked:
                selectors.personal_data_access_record(
                    actor=request.user,
                    subjects=[h.subject for h in result.items],
                    purpose="web:subjects_search",
                )
            rows = []
            for hit in result.items:
                subject = hit.subject
                masked = subject.is_person and not unmasked
                rows.append(
                    {
                        "hit": hit,
                        "subject": subject,
                        # A masked person gets no link: the address would carry the ID number.
                        "url": None if masked else credit_file_url(subject.code),
                        "code": mask_resident_id(subject.code) if masked else subject.code,
                        "name": mask_person_name(subject.name) if masked else subject.name,
                        "matched_name": (
                            mask_person_name(hit.matched_name)
                            if masked and hit.matched_name
                            else hit.matched_name
                        ),
                        "district": _district_name(subject.district),
                        "legal_representative": (
                            subject.legal_representative
                            if unmasked
                            else mask_person_name(subject.legal_representative)
                        ),
                    }
                )
            context.update(
                result=result,
                rows=rows,
                first=result.offset + 1,
                last=result.offset + len(result.items),
                previous_page=page - 1 if page > 1 else None,
                next_page=page + 1 if result.has_more and rows else None,
            )
    template = "subjects/_results.html" if request.htmx else "subjects/search.html"
    return render(request, template, context)
