"""Reads of the lists app: the catalogue, entries (staff and public), their history, objections,
repair applications, overdue decisions, and who may do what.

Staff reads go through ``restrict(actor, action)``; the public reads entries in force only, with
natural persons' names and ID numbers masked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from qualitycity.core.errors import NotFound, ValidationFailed
from qualitycity.core.models import ApiClient, Role
from qualitycity.core.permissions import has_scope, is_staff_actor
from qualitycity.subjects.identifiers import (
    mask_person_name,
    mask_personal_text,
    mask_resident_id,
)
from qualitycity.subjects.models import Subject

from .catalogue import ListDef, get_list, lists, period_rule_on
from .models import ListEntry, ListEntryEvent, Objection, RepairApplication

LIVE_STATES = ("proposed", "noticed", "published")
# States after which an entry is part of the history only.
ENDED_STATES = ("repaired", "removed", "expired", "withdrawn")

PUBLIC_PAGE_MAX = 200


# --------------------------------------------------------------------------------------------
# Who may do what
# --------------------------------------------------------------------------------------------


def restrict_entries(qs: models.QuerySet, user: Any, action: str) -> models.QuerySet:
    """Who sees which entries.

    ``view``: the public and enterprise users see published entries only (enterprise users also
    every entry of their own subject); staff see all. ``decide``: the owning department's
    officers, and the city-wide roles.
    """
    authenticated = user is not None and getattr(user, "is_authenticated", False)
    if action == "view":
        if not authenticated:
            return qs.filter(state=ListEntry.State.PUBLISHED)
        role = getattr(user, "role", None)
        if getattr(user, "is_citywide", False) or role in (Role.DATA_OFFICER, Role.INSPECTOR):
            return qs
        if role == Role.ENTERPRISE:
            binding = getattr(user, "enterprise_binding", None)
            own = models.Q(subject_id=binding.subject_id) if binding else models.Q(pk__in=[])
            return qs.filter(own | models.Q(state=ListEntry.State.PUBLISHED))
        if getattr(user, "department_id", None):  # API clients read like staff
            return qs
        return qs.filter(state=ListEntry.State.PUBLISHED)
    if not authenticated:
        return qs.none()
    if getattr(user, "is_citywide", False):
        return qs
    if getattr(user, "role", None) == Role.DATA_OFFICER and user.department_id:
        return qs.filter(department_id=user.department_id)
    return qs.none()


def restrict_requests(
    qs: models.QuerySet, user: Any, action: str, *, department_field: str
) -> models.QuerySet:
    """Objections and repair applications: city-wide roles see all; the deciding department's
    officers and clients theirs; an enterprise user those of its own subject (view only)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs.none()
    if getattr(user, "is_citywide", False):
        return qs
    role = getattr(user, "role", None)
    if role == Role.DATA_OFFICER and getattr(user, "department_id", None):
        return qs.filter(**{department_field: user.department_id})
    if role == Role.ENTERPRISE and action == "view":
        binding = getattr(user, "enterprise_binding", None)
        return qs.filter(subject_id=binding.subject_id) if binding else qs.none()
    return qs.none()


def can_decide(actor: Any, department_id: int | None) -> bool:
    """May ``actor`` propose, move and decide entries of lists owned by this department?

    City-wide roles, and the department's data officers and API clients, with ``lists.decide``.
    """
    if not is_staff_actor(actor) or not has_scope(actor, "lists.decide"):
        return False
    if getattr(actor, "is_citywide", False):
        return True
    return (
        getattr(actor, "role", None) == Role.DATA_OFFICER
        and department_id is not None
        and getattr(actor, "department_id", None) == department_id
    )


def bound_subject_id(actor: Any) -> int | None:
    """The subject an enterprise user acts for (None for everyone else)."""
    if getattr(actor, "role", None) != Role.ENTERPRISE or isinstance(actor, ApiClient):
        return None
    binding = getattr(actor, "enterprise_binding", None)
    return binding.subject_id if binding else None


def can_act_for_subject(actor: Any, subject_id: int, department_id: int | None) -> bool:
    """May ``actor`` file an objection or a repair application for this subject?

    The enterprise user bound to the subject; staff on the subject's behalf (city-wide roles, or
    an officer of the department that will decide it). All need ``lists.object``.
    """
    if not is_staff_actor(actor) or not has_scope(actor, "lists.object"):
        return False
    if getattr(actor, "role", None) == Role.ENTERPRISE:
        return bound_subject_id(actor) == subject_id
    if getattr(actor, "is_citywide", False):
        return True
    return (
        getattr(actor, "role", None) == Role.DATA_OFFICER
        and department_id is not None
        and getattr(actor, "department_id", None) == department_id
    )


# --------------------------------------------------------------------------------------------
# Entries in force
# --------------------------------------------------------------------------------------------


def in_force_q(on: dt.date) -> models.Q:
    """Entries published on or before ``on`` whose publication had not ended by then."""
    return (
        models.Q(published_on__isnull=False, published_on__lte=on)
        & (models.Q(ended_on__isnull=True) | models.Q(ended_on__gt=on))
        & (models.Q(publication_ends_on__isnull=True) | models.Q(publication_ends_on__gt=on))
    )


def entries_in_force(subject_ids: Iterable[int], on: dt.date) -> dict[int, list[ListEntry]]:
    """Subject id → the entries in force on ``on`` (any list), for the check-before-act API."""
    out: dict[int, list[ListEntry]] = defaultdict(list)
    ids = list(subject_ids)
    for start in range(0, len(ids), 900):
        qs = ListEntry.objects.filter(in_force_q(on), subject_id__in=ids[start : start + 900])
        for entry in qs.order_by("subject_id", "list_code"):
            out[entry.subject_id].append(entry)
    return out


# --------------------------------------------------------------------------------------------
# Presentation
# --------------------------------------------------------------------------------------------


def _zh() -> bool:
    from django.utils.translation import get_language

    return not (get_language() or "").startswith("en")


def subject_brief(subject: Subject, *, masked: bool) -> dict[str, Any]:
    """Code, name and kind of a subject; masked for natural persons when ``masked``."""
    person = subject.kind == Subject.Kind.PERSON
    return {
        "code": mask_resident_id(subject.code) if (masked and person) else subject.code,
        "name": mask_person_name(subject.name) if (masked and person) else subject.name,
        "kind": subject.kind,
        "masked": bool(masked and person),
    }


def list_brief(code: str) -> dict[str, Any]:
    found = lists().get(code)
    if found is None:  # an entry of a list since dropped from the catalogue
        return {"code": code, "name": code, "kind": "", "name_zh": code, "name_en": code}
    return {
        "code": code,
        "name": found.name(_zh()),
        "name_zh": found.name_zh,
        "name_en": found.name_en,
        "kind": found.kind,
    }


def public_entry_dict(entry: ListEntry) -> dict[str, Any]:
    """What the public sees of a published entry (masked for natural persons)."""
    return {
        "id": entry.pk,
        "list": list_brief(entry.list_code),
        "subject": subject_brief(entry.subject, masked=True),
        "department": entry.department.code,
        "department_name": entry.department.name,
        # Free text written by staff: ID numbers and a natural person's own name are masked.
        "reason": mask_personal_text(entry.reason, person_names=_person_names(entry.subject)),
        "legal_basis": entry.legal_basis,
        "published_on": entry.published_on,
        "publication_ends_on": entry.publication_ends_on,
    }


def _person_names(subject: Subject) -> tuple[str, ...]:
    return (subject.name,) if subject.kind == Subject.Kind.PERSON else ()


def entry_dict(entry: ListEntry, *, masked: bool) -> dict[str, Any]:
    """An entry as plain data for staff (the API and the CLI)."""
    return {
        "id": entry.pk,
        "list": list_brief(entry.list_code),
        "subject": subject_brief(entry.subject, masked=masked),
        "department": entry.department.code,
        "state": entry.state,
        "origin": entry.origin,
        "reason": entry.reason,
        "legal_basis": entry.legal_basis,
        "source_record_id": entry.source_record_id,
        "proposed_at": entry.proposed_at,
        "noticed_at": entry.noticed_at,
        "notice_ends_on": entry.notice_ends_on,
        "published_on": entry.published_on,
        "repair_allowed_from": entry.repair_allowed_from,
        "publication_ends_on": entry.publication_ends_on,
        "ended_on": entry.ended_on,
        "period_rule": entry.period_rule or None,
    }


def event_dict(event: ListEntryEvent) -> dict[str, Any]:
    if event.api_client_id:
        actor = {"kind": "api_client", "name": event.api_client.name}
    elif event.actor_id:
        actor = {"kind": "user", "name": event.actor.get_username()}
    else:
        actor = {"kind": "system", "name": event.source or "system"}
    return {
        "id": event.pk,
        "kind": event.kind,
        "label": str(ListEntryEvent.Kind(event.kind).label),
        "from_state": event.from_state,
        "to_state": event.to_state,
        "at": event.at,
        "actor": actor,
        "source": event.source,
        "reason": event.reason,
        "data": event.data,
    }


def _who(user: Any, client: Any) -> str | None:
    if client is not None:
        return client.name
    if user is not None:
        return user.get_username()
    return None


def objection_dict(o: Objection, *, masked: bool = False) -> dict[str, Any]:
    return {
        "id": o.pk,
        "subject": subject_brief(o.subject, masked=masked),
        "entry_id": o.entry_id,
        "record_id": o.record_id,
        "department": o.department.code,
        "text": o.text,
        "evidence": [{k: f.get(k) for k in ("name", "sha256", "size")} for f in (o.evidence or [])],
        "status": o.status,
        "filed_by": _who(o.filed_by, o.filed_by_client),
        "filed_at": o.filed_at,
        "due_on": o.due_on,
        "decided_at": o.decided_at,
        "decided_by": _who(o.decided_by, o.decided_by_client),
        "decision_reason": o.decision_reason,
        "overdue": o.status == Objection.Status.OPEN and o.due_on < timezone.localdate(),
        "overdue_flagged_at": o.overdue_flagged_at,
    }


def repair_dict(r: RepairApplication, *, masked: bool = False) -> dict[str, Any]:
    return {
        "id": r.pk,
        "subject": subject_brief(r.subject, masked=masked),
        "entry_id": r.entry_id,
        "department": r.entry.department.code,
        "commitment": r.commitment,
        "evidence": [{k: f.get(k) for k in ("name", "sha256", "size")} for f in (r.evidence or [])],
        "status": r.status,
        "filed_by": _who(r.filed_by, r.filed_by_client),
        "filed_at": r.filed_at,
        "due_on": r.due_on,
        "decided_at": r.decided_at,
        "decided_by": _who(r.decided_by, r.decided_by_client),
        "decision_reason": r.decision_reason,
        "overdue": r.status == RepairApplication.Status.OPEN and r.due_on < timezone.localdate(),
        "overdue_flagged_at": r.overdue_flagged_at,
    }


def masked_for(actor: Any, subjects: list[Subject], purpose: str) -> bool:
    """Whether ``actor`` sees these subjects masked; an unmasked view of persons is audited."""
    from qualitycity.subjects.selectors import personal_data_access_record, sees_personal_data

    if not sees_personal_data(actor):
        return True
    personal_data_access_record(actor=actor, subjects=subjects, purpose=purpose)
    return False


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------


def catalogue_list(*, on: dt.date | None = None) -> list[dict[str, Any]]:
    """Every list with its definition, the publication period in force and how many entries
    are in force on ``on`` (default today)."""
    on = on or timezone.localdate()
    counts = dict(
        ListEntry.objects.filter(in_force_q(on), state=ListEntry.State.PUBLISHED)
        .values_list("list_code")
        .annotate(n=models.Count("id"))
        .values_list("list_code", "n")
    )
    rule = period_rule_on(on)
    out = []
    for code, ld in lists().items():
        item = ld.as_dict()
        item["name"] = ld.name(_zh())
        if ld.is_red:
            item["period"] = {"valid_months": ld.valid_months}
        else:
            period = rule.levels.get(ld.level or "")
            item["period"] = {
                "min_months": period.min_months if period else None,
                "max_months": period.max_months if period else None,
                "effective_from": rule.effective_from.isoformat(),
                "reference": rule.reference,
            }
        item["entries_in_force"] = counts.get(code, 0)
        out.append(item)
    return out


# --------------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------------


def entry_list(
    *,
    actor: Any,
    list_code: str | None = None,
    state: str | None = None,
    department: str | None = None,
    subject: Subject | None = None,
    operator: bool = False,
) -> models.QuerySet[ListEntry]:
    """Entries the actor may see, newest proposal first, filtered.

    ``operator``: every entry, for the command line (no actor). ``list_code``: 404
    ``unknown_list``; ``state``: 400 ``unknown_state``.
    """
    base = ListEntry.objects.all() if operator else ListEntry.objects.restrict(actor, "view")
    qs = base.select_related("subject", "department")
    if list_code:
        get_list(list_code)
        qs = qs.filter(list_code=list_code)
    if state:
        if state not in ListEntry.State.values:
            raise ValidationFailed(
                f"Unknown state: {state}",
                code="unknown_state",
                details={"valid": list(ListEntry.State.values)},
            )
        qs = qs.filter(state=state)
    if department:
        qs = qs.filter(department__code=department)
    if subject is not None:
        qs = qs.filter(subject=subject)
    return qs.order_by("-proposed_at", "-id")


def entry_page(
    *,
    actor: Any,
    limit: int = 50,
    offset: int = 0,
    purpose: str = "list_entries",
    operator: bool = False,
    **filters: Any,
) -> dict[str, Any]:
    """One page of :func:`entry_list` as plain data (``total``, ``items``), masked as the actor
    must see it (the command line's ``operator`` view: masked)."""
    qs = entry_list(actor=actor, operator=operator, **filters)
    total = qs.count()
    page = list(qs[offset : offset + limit])
    masked = True if operator else masked_for(actor, [e.subject for e in page], purpose)
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [entry_dict(e, masked=masked) for e in page],
    }


def entry_get(*, actor: Any, entry_id: int) -> ListEntry:
    """An entry the actor may see; 404 ``unknown_entry`` otherwise."""
    entry = (
        ListEntry.objects.restrict(actor, "view")
        .select_related("subject", "department", "source_record")
        .filter(pk=entry_id)
        .first()
    )
    if entry is None:
        raise NotFound("No such list entry.", code="unknown_entry")
    return entry


@dataclass
class EntryDetail:
    entry: ListEntry
    list_def: ListDef | None
    events: list[ListEntryEvent]
    objections: list[Objection]
    repairs: list[RepairApplication]
    masked: bool
    can_decide: bool
    can_object: bool
    open_objection: Objection | None = None
    open_repair: RepairApplication | None = None
    # The actions the state allows (the actor's permission aside): "notice", "publish", ...
    actions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **entry_dict(self.entry, masked=self.masked),
            "events": [event_dict(e) for e in self.events],
            "objections": [objection_dict(o, masked=self.masked) for o in self.objections],
            "repairs": [repair_dict(r, masked=self.masked) for r in self.repairs],
            "under_objection": self.open_objection is not None,
            "can_decide": self.can_decide,
            "actions": self.actions if self.can_decide else [],
        }


def entry_detail(*, actor: Any, entry_id: int) -> EntryDetail:
    """An entry with its events, objections and repair applications, for the actor."""
    from .services import TRANSITIONS

    entry = entry_get(actor=actor, entry_id=entry_id)
    events = list(entry.events.select_related("actor", "api_client").order_by("at", "id"))
    objections = list(
        entry.objections.select_related(
            "subject",
            "department",
            "filed_by",
            "filed_by_client",
            "decided_by",
            "decided_by_client",
        )
    )
    repairs = list(
        entry.repairs.select_related(
            "subject",
            "entry__department",
            "filed_by",
            "filed_by_client",
            "decided_by",
            "decided_by_client",
        )
    )
    masked = masked_for(actor, [entry.subject], "list_entry")
    manual = {"notice", "publish", "withdraw", "remove"}
    return EntryDetail(
        entry=entry,
        list_def=lists().get(entry.list_code),
        events=events,
        objections=objections,
        repairs=repairs,
        masked=masked,
        can_decide=can_decide(actor, entry.department_id),
        can_object=can_act_for_subject(actor, entry.subject_id, entry.department_id),
        open_objection=next((o for o in objections if o.status == Objection.Status.OPEN), None),
        open_repair=next((r for r in repairs if r.status == RepairApplication.Status.OPEN), None),
        actions=[
            a for a, (src, _t, _k) in TRANSITIONS.items() if a in manual and entry.state in src
        ],
    )


def public_entries(
    *, list_code: str, on: dt.date | None = None, limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """The entries of a list in force on ``on`` (default today), for everyone: newest
    publication first, natural persons masked. 404 ``unknown_list``."""
    ld = get_list(list_code)
    on = on or timezone.localdate()
    limit = max(1, min(limit, PUBLIC_PAGE_MAX))
    qs = ListEntry.objects.filter(
        in_force_q(on), list_code=ld.code, state=ListEntry.State.PUBLISHED
    ).select_related("subject", "department")
    total = qs.count()
    page = qs.order_by("-published_on", "-id")[offset : offset + limit]
    return {
        "list": {**ld.as_dict(), "name": ld.name(_zh())},
        "on": on,
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [public_entry_dict(e) for e in page],
    }


def subject_entries_public(*, subject: Subject, on: dt.date | None = None) -> list[dict[str, Any]]:
    """The entries of one subject in force on ``on`` (default today), as the public sees them
    (for the portal's credit file)."""
    on = on or timezone.localdate()
    qs = ListEntry.objects.filter(
        in_force_q(on), subject=subject, state=ListEntry.State.PUBLISHED
    ).select_related("subject", "department")
    return [public_entry_dict(e) for e in qs.order_by("list_code")]


# --------------------------------------------------------------------------------------------
# Objections and repairs
# --------------------------------------------------------------------------------------------


def record_objection_open(record_ids: Iterable[int]) -> dict[int, dt.date]:
    """Record id → due date of its open objection (the record is "under objection")."""
    ids = list(record_ids)
    out: dict[int, dt.date] = {}
    for start in range(0, len(ids), 900):
        out.update(
            Objection.objects.filter(
                record_id__in=ids[start : start + 900], status=Objection.Status.OPEN
            ).values_list("record_id", "due_on")
        )
    return out


def entry_under_objection(entry_ids: Iterable[int]) -> dict[int, dt.date]:
    """Entry id → due date of its open objection (the entry is "under objection")."""
    ids = list(entry_ids)
    out: dict[int, dt.date] = {}
    for start in range(0, len(ids), 900):
        out.update(
            Objection.objects.filter(
                entry_id__in=ids[start : start + 900], status=Objection.Status.OPEN
            ).values_list("entry_id", "due_on")
        )
    return out


def objection_list(
    *,
    actor: Any,
    status: str | None = None,
    department: str | None = None,
    subject: Subject | None = None,
) -> models.QuerySet[Objection]:
    """Objections the actor may see, the nearest due first for open ones."""
    qs = Objection.objects.restrict(actor, "view").select_related(
        "subject",
        "department",
        "entry",
        "record",
        "filed_by",
        "filed_by_client",
        "decided_by",
        "decided_by_client",
    )
    if status:
        qs = qs.filter(status=status)
    if department:
        qs = qs.filter(department__code=department)
    if subject is not None:
        qs = qs.filter(subject=subject)
    return qs.order_by("status", "due_on", "id")


def objection_get(*, actor: Any, objection_id: int) -> Objection:
    """An objection the actor may see; 404 ``unknown_objection`` otherwise."""
    found = objection_list(actor=actor).filter(pk=objection_id).first()
    if found is None:
        raise NotFound("No such objection.", code="unknown_objection")
    return found


def repair_list(
    *,
    actor: Any,
    status: str | None = None,
    department: str | None = None,
    subject: Subject | None = None,
) -> models.QuerySet[RepairApplication]:
    """Repair applications the actor may see, the nearest due first for open ones."""
    qs = RepairApplication.objects.restrict(actor, "view").select_related(
        "subject",
        "entry",
        "entry__department",
        "filed_by",
        "filed_by_client",
        "decided_by",
        "decided_by_client",
    )
    if status:
        qs = qs.filter(status=status)
    if department:
        qs = qs.filter(entry__department__code=department)
    if subject is not None:
        qs = qs.filter(subject=subject)
    return qs.order_by("status", "due_on", "id")


def repair_get(*, actor: Any, repair_id: int) -> RepairApplication:
    """A repair application the actor may see; 404 ``unknown_repair`` otherwise."""
    found = repair_list(actor=actor).filter(pk=repair_id).first()
    if found is None:
        raise NotFound("No such repair application.", code="unknown_repair")
    return found


def evidence_file(*, obj: Objection | RepairApplication, sha256: str) -> tuple[Path, str]:
    """The kept file of an objection's or application's evidence: (absolute path, name).

    The caller has fetched ``obj`` through :func:`objection_get` / :func:`repair_get` (which
    check the actor may see it). 404 ``unknown_evidence``.
    """
    for item in obj.evidence or []:
        if item.get("sha256") == sha256:
            path = Path(settings.FILES_ROOT) / item["path"]
            if path.is_file():
                return path, item.get("name") or path.name
    raise NotFound("No such evidence file.", code="unknown_evidence")


# --------------------------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------------------------


def overdue_item_dict(item: Objection | RepairApplication) -> dict[str, Any]:
    if isinstance(item, Objection):
        return {
            "kind": "objection",
            "id": item.pk,
            "department": item.department.code,
            "entry_id": item.entry_id,
            "record_id": item.record_id,
            "subject": subject_brief(item.subject, masked=True),
            "filed_at": item.filed_at,
            "due_on": item.due_on,
            "overdue_flagged_at": item.overdue_flagged_at,
        }
    return {
        "kind": "repair",
        "id": item.pk,
        "department": item.entry.department.code,
        "entry_id": item.entry_id,
        "record_id": None,
        "subject": subject_brief(item.subject, masked=True),
        "filed_at": item.filed_at,
        "due_on": item.due_on,
        "overdue_flagged_at": item.overdue_flagged_at,
    }


def overdue_items(
    *, actor: Any = None, department: str | None = None, today: dt.date | None = None
) -> list[dict[str, Any]]:
    """Open objections and repair applications whose decision is overdue (``due_on`` before
    ``today``), oldest due first.

    With an ``actor``, what it may see (a department's officers: their own; the quality office:
    all); without one (the CLI, jobs), all. ``department`` narrows to one department.
    """
    today = today or timezone.localdate()
    objections = Objection.objects.filter(status=Objection.Status.OPEN, due_on__lt=today)
    repairs = RepairApplication.objects.filter(
        status=RepairApplication.Status.OPEN, due_on__lt=today
    )
    if actor is not None:
        objections = objections.restrict(actor, "view")
        repairs = repairs.restrict(actor, "view")
    if department:
        objections = objections.filter(department__code=department)
        repairs = repairs.filter(entry__department__code=department)
    items: list[Objection | RepairApplication] = [
        *objections.select_related("department", "subject"),
        *repairs.select_related("entry__department", "subject"),
    ]
    items.sort(key=lambda i: (i.due_on, i.filed_at))
    return [overdue_item_dict(i) for i in items]


def overdue_counts(*, actor: Any = None, today: dt.date | None = None) -> dict[str, int]:
    """Department code → overdue decisions (for dashboards)."""
    counts: dict[str, int] = defaultdict(int)
    for item in overdue_items(actor=actor, today=today):
        counts[item["department"]] += 1
    return dict(counts)
