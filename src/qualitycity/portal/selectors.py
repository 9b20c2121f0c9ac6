"""Reads of the public portal: the credit lookup and public credit files, masked.

The public never sees a natural person's name or resident ID number in full, not even in a link:
persons are addressed by a signed reference (``p<id>:<signature>``), legal entities by their
unified social credit code (public information).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core import signing

from qualitycity.core.errors import NotFound
from qualitycity.records.selectors import CreditFile, credit_file
from qualitycity.subjects.identifiers import mask_person_name, mask_resident_id
from qualitycity.subjects.models import Subject
from qualitycity.subjects.selectors import subject_get, subject_search

PAGE_SIZE = 20
LIST_PAGE_SIZE = 50
_PERSON_SALT = "qualitycity.portal.person"


@dataclass
class PublicHit:
    ref: str  # what goes into /credit/<ref>/
    code: str  # masked for persons
    name: str  # masked for persons
    kind: str
    subject_type: str
    district: str
    status: str
    former_name: str | None  # the former name that matched (legal entities only)


@dataclass
class PublicResults:
    hits: list[PublicHit]
    total: int
    capped: bool
    page: int
    pages: int
    query: str


def subject_ref(subject: Subject) -> str:
    """The public address of a subject: its USCC, or a signed reference for a person."""
    if subject.kind == Subject.Kind.PERSON:
        return signing.Signer(salt=_PERSON_SALT).sign(f"p{subject.pk}")
    return subject.code


def subject_for_ref(*, ref: str) -> Subject:
    """The subject a public reference names (a code or a signed person reference).

    Raises ``ValidationFailed`` (the failed identifier check as code) for a malformed code and
    ``NotFound`` for an unregistered code or a bad reference.
    """
    if ":" in ref:
        try:
            value = signing.Signer(salt=_PERSON_SALT).unsign(ref)
        except signing.BadSignature as exc:
            raise NotFound("No such credit file.", code="subject_not_registered") from exc
        subject = Subject.objects.filter(pk=int(value[1:])).first() if value[1:].isdigit() else None
        if subject is None:
            raise NotFound("No such credit file.", code="subject_not_registered")
        return subject
    return subject_get(code=ref)


def _hit(subject: Subject, former_name: str | None) -> PublicHit:
    from qualitycity.subjects.codelists import DISTRICTS, SUBJECT_STATUSES, SUBJECT_TYPES

    is_person = subject.kind == Subject.Kind.PERSON
    return PublicHit(
        ref=subject_ref(subject),
        code=mask_resident_id(subject.code) if is_person else subject.code,
        name=mask_person_name(subject.name) if is_person else subject.name,
        kind=subject.kind,
        subject_type=_label(SUBJECT_TYPES, subject.subject_type),
        district=_label(DISTRICTS, subject.district),
        status=_label(SUBJECT_STATUSES, subject.status),
        former_name=None if is_person else former_name,
    )


def _label(table: dict[str, tuple[str, ...]], key: str) -> str:
    from django.utils.translation import get_language

    entry = table.get(key) if key else None
    if not entry:
        return key or ""
    return entry[1] if (get_language() or "").startswith("en") and len(entry) > 1 else entry[0]


def public_search(*, q: str, page: int = 1) -> PublicResults:
    """One page of the public lookup: masked hits in the registry's ranking.

    Raises ``ValidationFailed`` (``query_too_short``) for a query under 2 characters.
    """
    page = max(1, page)
    result = subject_search(q=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    hits = [_hit(h.subject, h.matched_name) for h in result.items]
    pages = max(1, -(-result.total // PAGE_SIZE))
    return PublicResults(
        hits=hits,
        total=result.total,
        capped=result.capped,
        page=page,
        pages=pages,
        query=result.query,
    )


def public_credit_file(*, ref: str, per_category: int | None = None) -> CreditFile:
    """The public view of a credit file: public records only, personal data masked.

    ``per_category`` lists only the newest records of each category (see ``credit_file``).
    """
    subject = subject_for_ref(ref=ref)
    file = credit_file(
        subject=subject, actor=AnonymousUser(), purpose="public_lookup", per_category=per_category
    )
    # Defence in depth: the public view is built for an anonymous actor, so it must be masked
    # and hold public records only, whatever the records app decides later.
    for group in file.groups:
        shown = [r for r in group.records if r.is_public]
        group.total -= len(group.records) - len(shown)
        group.records = shown
    file.groups = [g for g in file.groups if g.records]
    assert file.masked and not file.staff
    return file


def public_list_entries(subject: Subject) -> list[dict[str, Any]]:
    """The subject's list entries in force today, as the public sees them (masked; expired,
    repaired and removed entries are gone)."""
    from qualitycity.lists.selectors import subject_entries_public

    return subject_entries_public(subject=subject)


def public_lists() -> list[dict[str, Any]]:
    """The catalogue of lists with the owning department's name and the entries in force."""
    from qualitycity.core.models import Department
    from qualitycity.lists.selectors import catalogue_list

    names = {d.code: d.name for d in Department.objects.all()}
    return [
        {**item, "department_name": names.get(item["department"], item["department"])}
        for item in catalogue_list()
    ]


def public_list_page(*, list_code: str, page: int = 1) -> dict[str, Any]:
    """One page of a list's entries in force today, with a public link for legal entities
    (persons are never linked: their code is masked)."""
    from qualitycity.lists.selectors import public_entries

    page = max(1, page)
    size = LIST_PAGE_SIZE
    data = public_entries(list_code=list_code, limit=size, offset=(page - 1) * size)
    for item in data["items"]:
        item["ref"] = "" if item["subject"]["masked"] else item["subject"]["code"]
    data["page"] = page
    data["pages"] = max(1, -(-data["total"] // size))
    return data


def public_context(file: CreditFile) -> dict[str, Any]:
    """What the public credit-file page shows; never the subject object itself."""
    return {
        "list_entries": public_list_entries(file.subject),
        "code": file.code,
        "name": file.name,
        "kind": file.kind,
        "masked": file.masked,
        "registry": file.registry,
        "former_names": file.former_names,
        "groups": file.groups,
        "record_count": sum(g.total for g in file.groups),
    }
