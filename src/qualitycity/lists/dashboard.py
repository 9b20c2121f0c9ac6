"""What the lists app adds to other apps' pages: the decisions panel of the staff dashboard
(overdue objections and repair applications, proposals waiting) and the list-entries section
of a subject's credit file (with the records under objection)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone

from qualitycity.core.dashboard import register_panel
from qualitycity.core.models import Department, Role
from qualitycity.core.permissions import has_scope
from qualitycity.core.sections import register_file_section

# A credit file lists the newest entries of the subject.
FILE_SECTION_ENTRIES = 50


def _decisions(request: HttpRequest) -> dict[str, Any]:
    from . import selectors
    from .models import ListEntry, Objection, RepairApplication

    user = request.user
    today = timezone.localdate()
    names = {d.code: d.name for d in Department.objects.all()}
    by_department = selectors.overdue_counts(actor=user, today=today)
    waiting = ListEntry.objects.restrict(user, "decide").aggregate(
        proposed=Count("id", filter=Q(state=ListEntry.State.PROPOSED)),
        publishable=Count("id", filter=Q(state=ListEntry.State.NOTICED, notice_ends_on__lt=today)),
    )
    return {
        "overdue": sum(by_department.values()),
        "by_department": sorted(
            ((names.get(code, code), n) for code, n in by_department.items()),
            key=lambda kv: -kv[1],
        ),
        "open_objections": Objection.objects.restrict(user, "view")
        .filter(status=Objection.Status.OPEN)
        .count(),
        "open_repairs": RepairApplication.objects.restrict(user, "view")
        .filter(status=RepairApplication.Status.OPEN)
        .count(),
        "proposed": waiting["proposed"],
        "publishable": waiting["publishable"],
        "citywide": getattr(user, "is_citywide", False),
    }


def credit_file_section(request: HttpRequest, *, subject: Any, file: Any) -> dict[str, Any] | None:
    """The subject's list entries (staff: every state; an enterprise user: its own subject's,
    else the published ones), the records on the page under objection, and the way to object."""
    from . import selectors
    from .views import _subject

    user = request.user
    if not has_scope(user, "lists.read"):
        return None
    qs = selectors.entry_list(actor=user, subject=subject)
    total = qs.count()
    entries = list(qs[:FILE_SECTION_ENTRIES])
    masked = selectors.masked_for(user, [subject], "web:credit_file_lists") if entries else True
    under_entries = selectors.entry_under_objection([e.pk for e in entries])
    records = {r.id: r for g in getattr(file, "groups", []) for r in g.records}
    under_records = selectors.record_objection_open(list(records))
    enterprise = getattr(user, "role", None) == Role.ENTERPRISE and not user.is_superuser
    if enterprise:
        can_object = selectors.bound_subject_id(user) == subject.pk and has_scope(
            user, "lists.object"
        )
    else:
        can_object = has_scope(user, "lists.object") and (
            getattr(user, "is_citywide", False) or getattr(user, "department_id", None)
        )
    return {
        "entries": [
            {
                "entry": e,
                "list": selectors.list_brief(e.list_code),
                "under_objection": under_entries.get(e.pk),
            }
            for e in entries
        ],
        "total": total,
        "more": max(0, total - len(entries)),
        "subject": _subject(subject, masked),
        "records_under_objection": [
            {"record": records[rid], "due_on": due} for rid, due in sorted(under_records.items())
        ],
        "can_object": bool(can_object),
        "code": subject.code,
        "enterprise": enterprise,
    }


def register() -> None:
    register_panel(
        key="lists.decisions",
        template="lists/panels/decisions.html",
        context=_decisions,
        order=40,
        roles={"platform_admin", "quality_office", "data_officer"},
    )
    register_file_section(
        key="lists.entries",
        template="lists/_file_section.html",
        context=credit_file_section,
        order=20,
        scope="lists.read",
    )
