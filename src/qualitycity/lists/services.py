"""Writes of the lists app: proposals, the lifecycle of entries, objections, credit repair and
decision deadlines.

Listing a subject is a legal decision of a named authority: rules over records only *propose*
entries; every later step is an act of an officer of the list's owning department (or of a
city-wide role), with a reason, written as a ``ListEntryEvent`` together with the change it
makes, in one transaction. Acts of the platform itself (rule proposals, expiry at the end of the
publication period, flags on missed deadlines) are events too, with the context's actor (the
operator of a CLI command, the creator of a job, or none).

Dates: an act takes effect today unless a service takes ``on`` (an act recorded afterwards,
e.g. history migrated in; never in the future). Publication periods come from the dated rule in
force on the day of publication (``catalogue.publication_period``); deadlines are working days
(``records.workdays``) from the rule in force on the day the clock starts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from qualitycity.core import context
from qualitycity.core.errors import (
    Conflict,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)
from qualitycity.core.jobs import job_create, job_enqueue, job_kind
from qualitycity.core.models import ApiClient, Department, Job, ObjectChange, Role, User
from qualitycity.core.permissions import has_scope, is_staff_actor
from qualitycity.core.schedule import daily
from qualitycity.records.models import Record
from qualitycity.records.workdays import calendar
from qualitycity.subjects.models import Subject

from . import selectors
from .catalogue import (
    ListCatalogueError,
    ListDef,
    get_list,
    lists,
    period_rule_on,
    publication_period,
)
from .models import DataVersion, ListEntry, ListEntryEvent, Objection, RepairApplication

log = logging.getLogger(__name__)

State = ListEntry.State
Kind = ListEntryEvent.Kind

# action → (states it starts from, state it leads to, event kind)
TRANSITIONS: dict[str, tuple[frozenset[str], str, str]] = {
    "notice": (frozenset({State.PROPOSED}), State.NOTICED, Kind.NOTICED),
    "publish": (frozenset({State.NOTICED}), State.PUBLISHED, Kind.PUBLISHED),
    "withdraw": (frozenset({State.PROPOSED, State.NOTICED}), State.WITHDRAWN, Kind.WITHDRAWN),
    "remove": (frozenset({State.PUBLISHED}), State.REMOVED, Kind.REMOVED),
    "expire": (frozenset({State.PUBLISHED}), State.EXPIRED, Kind.EXPIRED),
    "repair": (frozenset({State.PUBLISHED}), State.REPAIRED, Kind.REPAIR_APPROVED),
}

# Reasons of the platform's own acts (stored data, like the catalogue's names).
REASON_RULE = "{dataset}记录（{decision_date}，编号 {record}）符合本名单的列入条件"
REASON_EXPIRED = "公示期届满（{day}），自动停止公示"
REASON_OBJECTION_UPHELD = "异议成立：{reason}"
REASON_REPAIRED = "信用修复通过：{reason}"

EVIDENCE_EXTENSIONS = frozenset(
    {"pdf", "ofd", "jpg", "jpeg", "png", "tif", "tiff", "doc", "docx", "xls", "xlsx", "csv",
     "txt", "zip"}
)  # fmt: skip
EVIDENCE_MAX_FILES = 10
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class IllegalTransition(Conflict):
    code = "illegal_transition"


class NoticePeriodRunning(Conflict):
    code = "notice_period_running"


class RepairTooEarly(Conflict):
    code = "repair_too_early"


class EntryExists(Conflict):
    code = "entry_exists"


class ReasonRequired(ValidationFailed):
    code = "reason_required"


def _illegal(obj: str, state: str, action: str, allowed: Iterable[str] = ()) -> IllegalTransition:
    return IllegalTransition(
        f"Cannot {action} a {obj} in state {state}.",
        details={"object": obj, "state": state, "action": action, "allowed_from": sorted(allowed)},
    )


# --------------------------------------------------------------------------------------------
# Helpers: actors, dates, events
# --------------------------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def effective_day(on: dt.date | str | None) -> dt.date:
    """The day an act takes effect: ``on`` (not in the future: 400 ``date_in_future``) or
    today."""
    if on is None:
        return _today()
    if isinstance(on, str):
        try:
            on = dt.date.fromisoformat(on)
        except ValueError:
            raise ValidationFailed(f"Not a date: {on}", code="invalid_date") from None
    if isinstance(on, dt.datetime):
        on = on.date()
    if on > _today():
        raise ValidationFailed(
            f"{on} is in the future.", code="date_in_future", details={"on": on.isoformat()}
        )
    return on


def _moment(day: dt.date) -> dt.datetime:
    """Now, or noon of ``day`` (local time) for an act recorded afterwards."""
    now = timezone.now()
    if day == timezone.localdate(now):
        return now
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


def _require_text(value: str | None, name: str = "reason") -> str:
    text = (value or "").strip()
    if not text:
        if name == "reason":
            raise ReasonRequired("A reason is required.", details={"field": "reason"})
        raise ValidationFailed(f"{name} is required.", code=f"{name}_required")
    return text


def _who(actor: Any) -> dict[str, Any]:
    """Event actor fields: the acting user or API client, else the context's."""
    if isinstance(actor, ApiClient):
        return {"actor": None, "api_client": actor}
    if isinstance(actor, User) and actor.pk:
        return {"actor": actor, "api_client": None}
    ctx = context.current()
    user = ctx.user if isinstance(ctx.user, User) and ctx.user.pk else None
    return {"actor": user, "api_client": ctx.api_client}


def data_version_raise() -> None:
    """Raise the list data's version counter (``DataVersion``) in the caller's transaction."""
    if not DataVersion.objects.filter(pk=1).update(n=models.F("n") + 1):
        DataVersion.objects.get_or_create(pk=1, defaults={"n": 1})


def _event(
    entry: ListEntry,
    kind: str,
    *,
    actor: Any,
    reason: str = "",
    from_state: str | None = None,
    to_state: str | None = None,
    at: dt.datetime | None = None,
    data: dict[str, Any] | None = None,
) -> ListEntryEvent:
    ctx = context.current()
    data_version_raise()
    return ListEntryEvent.objects.create(
        entry=entry,
        kind=kind,
        from_state=entry.state if from_state is None else from_state,
        to_state=entry.state if to_state is None else to_state,
        at=at or timezone.now(),
        source=ctx.source,
        request_id=ctx.request_id,
        reason=reason,
        data=data or {},
        **_who(actor),
    )


def _authorise_decide(actor: Any, department: Department) -> None:
    """Raise unless ``actor`` may decide for lists owned by ``department``."""
    if not is_staff_actor(actor):
        raise Unauthenticated("Authentication required.", details={"scope": "lists.decide"})
    if not has_scope(actor, "lists.decide"):
        raise PermissionDenied(
            "This action needs the scope lists.decide.",
            code="missing_scope",
            details={"scope": "lists.decide"},
        )
    if selectors.can_decide(actor, department.pk):
        return
    if getattr(actor, "role", None) == Role.DATA_OFFICER:
        raise PermissionDenied(
            f"Only the owning department ({department.code}) decides this.",
            code="forbidden_department",
            details={"department": department.code},
        )
    raise PermissionDenied("Not allowed.", code="forbidden")


def _authorise_subject(actor: Any, subject: Subject, department: Department) -> None:
    """Raise unless ``actor`` may file for ``subject`` (its bound user, or staff for it)."""
    if not is_staff_actor(actor):
        raise Unauthenticated("Authentication required.", details={"scope": "lists.object"})
    if not has_scope(actor, "lists.object"):
        raise PermissionDenied(
            "This action needs the scope lists.object.",
            code="missing_scope",
            details={"scope": "lists.object"},
        )
    if selectors.can_act_for_subject(actor, subject.pk, department.pk):
        return
    if getattr(actor, "role", None) == Role.ENTERPRISE:
        raise PermissionDenied(
            "You may act for your own enterprise only.", code="not_bound_to_subject"
        )
    raise PermissionDenied(
        f"Only the subject, the deciding department ({department.code}) or a city-wide role "
        "may file this.",
        code="forbidden_department",
        details={"department": department.code},
    )


def _user_or_client(actor: Any) -> tuple[User | None, ApiClient | None]:
    if isinstance(actor, ApiClient):
        return None, actor
    if isinstance(actor, User) and actor.pk:
        return actor, None
    return None, None


def _lock(entry: ListEntry | int) -> ListEntry:
    pk = entry.pk if isinstance(entry, ListEntry) else entry
    return ListEntry.objects.select_for_update().select_related("department", "subject").get(pk=pk)


def _refresh(original: Any, fresh: Any) -> Any:
    """Bring the caller's instance up to date and return the fresh one."""
    if original is not fresh and hasattr(original, "refresh_from_db"):
        original.refresh_from_db()
    return fresh


def _move(
    entry: ListEntry,
    action: str,
    *,
    actor: Any,
    reason: str,
    at: dt.datetime,
    kind: str | None = None,
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> ListEntry:
    """Apply a transition of the state machine to a locked entry and write its event."""
    allowed, target, default_kind = TRANSITIONS[action]
    if entry.state not in allowed:
        raise _illegal("list entry", entry.state, action, allowed)
    before = entry.state
    entry.state = target
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.save()
    _event(
        entry,
        kind or default_kind,
        actor=actor,
        reason=reason,
        from_state=before,
        to_state=target,
        at=at,
        data=data,
    )
    return entry


def _deadline(start: dt.date, name: str) -> dt.date:
    """``start`` plus the working days of a deadline of the rule in force on ``start``."""
    return calendar().add_working_days(start, period_rule_on(start).deadline(name))


# --------------------------------------------------------------------------------------------
# Proposals
# --------------------------------------------------------------------------------------------


def _list_department(ld: ListDef) -> Department:
    return Department.objects.get(code=ld.department)


def entry_propose(
    *,
    list_code: str,
    subject: Subject,
    reason: str,
    actor: Any,
    source_record: Record | None = None,
    on: dt.date | None = None,
) -> ListEntry:
    """Propose listing ``subject`` on a list (an officer's manual proposal).

    The actor must be able to decide for the list's owning department. A subject already on the
    list (proposed, noticed or published) → 409 ``entry_exists``; a source record of another
    subject → 400 ``record_not_of_subject``. Nothing is published: the entry waits for notice.
    """
    ld = get_list(list_code)
    department = _list_department(ld)
    _authorise_decide(actor, department)
    reason = _require_text(reason)
    day = effective_day(on)
    if source_record is not None and source_record.subject_id != subject.pk:
        raise ValidationFailed(
            "The source record is about another subject.", code="record_not_of_subject"
        )
    at = _moment(day)
    try:
        with transaction.atomic():
            entry = ListEntry(
                list_code=ld.code,
                subject=subject,
                department=department,
                state=State.PROPOSED,
                origin=ListEntry.Origin.MANUAL,
                reason=reason,
                legal_basis=ld.legal_basis,
                source_record=source_record,
                proposed_at=at,
            )
            entry.save()
            _event(
                entry,
                Kind.PROPOSED,
                actor=actor,
                reason=reason,
                from_state="",
                to_state=State.PROPOSED,
                at=at,
                data={"origin": "manual", "source_record_id": getattr(source_record, "pk", None)},
            )
    except IntegrityError:
        live = ListEntry.objects.filter(
            list_code=ld.code, subject=subject, state__in=selectors.LIVE_STATES
        ).first()
        raise EntryExists(
            "The subject is already on this list (or proposed for it).",
            details={"entry_id": getattr(live, "pk", None), "state": getattr(live, "state", None)},
        ) from None
    return entry


def _rule_candidates(ld: ListDef, on: dt.date):
    """Records of the rule's dataset in its window (a query), newest first."""
    from qualitycity.credit.scorecard import months_before

    rule = ld.rule
    assert rule is not None
    # Records of a submission still being ingested may be undone: only processed ones count.
    qs = Record.objects.filter(
        dataset=rule.dataset, decision_date__lte=on, source_file__status="processed"
    )
    if rule.window_months:
        qs = qs.filter(decision_date__gt=months_before(on, rule.window_months))
    if rule.severity:
        qs = qs.filter(severity__in=rule.severity)
    return qs.only(
        "id", "subject_id", "source_record_id", "dataset", "decision_date", "severity", "data"
    ).order_by("subject_id", "-decision_date", "-id")


def entries_propose_from_rules(
    *, on: dt.date | None = None, list_codes: Sequence[str] | None = None, progress: Any = None
) -> dict[str, Any]:
    """Propose entries for the records that match each list's rule on ``on`` (default today).

    Never publishes: each proposal waits for the owning department's decision. Idempotent:
    a subject with a live entry on the list is skipped, and a record that already led to an
    entry of the list (withdrawn, removed, expired, repaired, …) proposes nothing again. Per
    subject only the newest matching record counts. Proposals are dated ``on`` (a past day: a
    run recorded afterwards, e.g. history migrated in). Returns counts per list (``matched``:
    subjects with a matching record).
    """
    on = effective_day(on)
    codes = list(list_codes) if list_codes else [c for c, ld in lists().items() if ld.rule]
    defs = [get_list(c) for c in codes]
    defs = [ld for ld in defs if ld.rule is not None]
    if progress is not None:
        progress.set_total(sum(_rule_candidates(ld, on).count() for ld in defs))
    from qualitycity.records.catalogue import get_dataset

    by_list: dict[str, dict[str, int]] = {}
    for ld in defs:
        department = _list_department(ld)
        live = set(
            ListEntry.objects.filter(
                list_code=ld.code, state__in=selectors.LIVE_STATES
            ).values_list("subject_id", flat=True)
        )
        used = set(
            ListEntry.objects.filter(list_code=ld.code, source_record__isnull=False).values_list(
                "source_record_id", flat=True
            )
        )
        ds_name = get_dataset(ld.rule.dataset).name_zh
        counts = {"matched": 0, "proposed": 0, "already_listed": 0, "decided_before": 0}
        proposals: list[Record] = []
        seen: set[int] = set()
        scanned = 0
        # Newest first per subject: only a subject's newest matching record counts.
        for record in _rule_candidates(ld, on).iterator(chunk_size=5000):
            scanned += 1
            if progress is not None and scanned % 1000 == 0:
                progress.advance(1000)
            if record.subject_id in seen or not ld.rule.matches(record, on):
                continue
            seen.add(record.subject_id)
            counts["matched"] += 1
            if record.subject_id in live:
                counts["already_listed"] += 1
            elif record.pk in used:
                counts["decided_before"] += 1
            else:
                proposals.append(record)
        if progress is not None and scanned % 1000:
            progress.advance(scanned % 1000)
        counts["proposed"] = _propose_many(ld, department, proposals, ds_name, _moment(on))
        by_list[ld.code] = counts
    total = sum(c["proposed"] for c in by_list.values())
    log.info("list rules on %s proposed %d entries", on, total)
    return {"on": on.isoformat(), "proposed": total, "lists": by_list}


def _propose_many(
    ld: ListDef, department: Department, records: list[Record], ds_name: str, at: dt.datetime
) -> int:
    """Create PROPOSED entries (origin rule) for ``records`` in batches, with their events and
    change log; a subject listed meanwhile (the partial unique constraint) is skipped."""
    created = 0
    who = _who(None)
    ctx = context.current()
    for start in range(0, len(records), 1000):
        batch = records[start : start + 1000]
        now = timezone.now()
        entries = [
            ListEntry(
                list_code=ld.code,
                subject_id=r.subject_id,
                department=department,
                state=State.PROPOSED,
                origin=ListEntry.Origin.RULE,
                reason=REASON_RULE.format(
                    dataset=ds_name, decision_date=r.decision_date, record=r.source_record_id
                ),
                legal_basis=ld.legal_basis,
                source_record_id=r.pk,
                proposed_at=at,
                created_at=now,
                updated_at=now,
            )
            for r in batch
        ]
        try:
            with transaction.atomic():
                ListEntry.objects.bulk_create(entries)
                saved = entries
        except IntegrityError:
            saved = []
            for entry in entries:
                try:
                    with transaction.atomic():
                        entry.pk = None
                        ListEntry.objects.bulk_create([entry])
                        saved.append(entry)
                except IntegrityError:
                    continue
        if not saved:
            continue
        with transaction.atomic():
            if any(e.pk is None for e in saved):  # a backend without RETURNING
                ids = dict(
                    ListEntry.objects.filter(
                        list_code=ld.code,
                        state=State.PROPOSED,
                        subject_id__in=[e.subject_id for e in saved],
                    ).values_list("subject_id", "id")
                )
                for e in saved:
                    e.pk = e.id = ids.get(e.subject_id)
            data_version_raise()
            ListEntryEvent.objects.bulk_create(
                [
                    ListEntryEvent(
                        entry_id=e.pk,
                        kind=Kind.PROPOSED,
                        from_state="",
                        to_state=State.PROPOSED,
                        at=e.proposed_at,
                        source=ctx.source,
                        request_id=ctx.request_id,
                        reason=e.reason,
                        data={"origin": "rule", "source_record_id": e.source_record_id},
                        **who,
                    )
                    for e in saved
                ]
            )
            ObjectChange.record_many(
                ListEntry, [("create", e.pk, str(e), None, e.snapshot()) for e in saved]
            )
        created += len(saved)
    return created


def entries_propose_start(
    *, actor: Any = None, on: dt.date | None = None, list_codes: Sequence[str] | None = None
) -> Job:
    """Queue a ``lists_propose`` job. City-wide roles run every rule; a department's officer or
    client the rules of its own lists (``list_codes`` default to them)."""
    day = effective_day(on)
    codes = list(list_codes or [])
    for code in codes:
        get_list(code)
    department = None
    if actor is not None:
        if not is_staff_actor(actor):
            raise Unauthenticated("Authentication required.", details={"scope": "lists.decide"})
        if not has_scope(actor, "lists.decide"):
            raise PermissionDenied(
                "This action needs the scope lists.decide.",
                code="missing_scope",
                details={"scope": "lists.decide"},
            )
        if not getattr(actor, "is_citywide", False):
            department = getattr(actor, "department", None)
            own = [
                c
                for c, ld in lists().items()
                if ld.rule and department is not None and ld.department == department.code
            ]
            codes = codes or own
            foreign = [c for c in codes if c not in own]
            if foreign or not codes:
                raise PermissionDenied(
                    "You may run the rules of your own department's lists only.",
                    code="forbidden_department",
                    details={"lists": foreign},
                )
    job = job_create(
        kind="lists_propose",
        title=f"List proposals from rules on {day}",
        params={"on": day.isoformat(), "list_codes": codes or None},
        user=actor,
        department=department,
    )
    Job.objects.filter(pk=job.pk).update(unit="records")
    return job_enqueue(job)


@job_kind("lists_propose")
def _propose_job(job: Job, progress: Any) -> dict[str, Any]:
    p = job.params
    return entries_propose_from_rules(
        on=dt.date.fromisoformat(p["on"]) if p.get("on") else None,
        list_codes=p.get("list_codes"),
        progress=progress,
    )


# --------------------------------------------------------------------------------------------
# Transitions
# --------------------------------------------------------------------------------------------


def entry_notice(
    *, entry: ListEntry, actor: Any, reason: str, on: dt.date | None = None
) -> ListEntry:
    """Give the subject notice of the intended listing (PROPOSED → NOTICED).

    The notice names the list, its legal basis, the reason and the last day to object
    (``notice_ends_on``: ``notice_working_days`` of the period rule in force); the entry may be
    published only after that day.
    """
    reason = _require_text(reason)
    day = effective_day(on)
    with transaction.atomic():
        locked = _lock(entry)
        _authorise_decide(actor, locked.department)
        if day < timezone.localdate(locked.proposed_at):
            raise ValidationFailed(
                "The notice cannot precede the proposal.", code="date_out_of_order"
            )
        ld = get_list(locked.list_code)
        ends = _deadline(day, "notice_working_days")
        notice = {
            "list": ld.code,
            "list_name": ld.name_zh,
            "legal_basis": locked.legal_basis,
            "reason": locked.reason,
            "noticed_on": day.isoformat(),
            "objection_deadline": ends.isoformat(),
            "publishable_from": (ends + dt.timedelta(days=1)).isoformat(),
        }
        at = _moment(day)
        _move(
            locked,
            "notice",
            actor=actor,
            reason=reason,
            at=at,
            data={"notice": notice},
            noticed_at=at,
            notice_ends_on=ends,
        )
    return _refresh(entry, locked)


def entry_publish(
    *, entry: ListEntry, actor: Any, reason: str, on: dt.date | None = None
) -> ListEntry:
    """Publish a noticed entry (NOTICED → PUBLISHED), after the notice period.

    Sets ``published_on`` and, from the period rule in force that day, ``repair_allowed_from``
    and ``publication_ends_on`` (red lists: the list's ``valid_months``, no repair); the rule is
    kept in ``period_rule``. Refusals: 409 ``notice_period_running`` (with the first day it may
    be published), 409 ``objection_open`` while an objection waits for its decision.
    """
    reason = _require_text(reason)
    day = effective_day(on)
    with transaction.atomic():
        locked = _lock(entry)
        _authorise_decide(actor, locked.department)
        allowed, _target, _kind = TRANSITIONS["publish"]
        if locked.state not in allowed:
            raise _illegal("list entry", locked.state, "publish", allowed)
        if locked.notice_ends_on is None or day <= locked.notice_ends_on:
            first = (locked.notice_ends_on or day) + dt.timedelta(days=1)
            raise NoticePeriodRunning(
                f"The notice period runs until {locked.notice_ends_on}; publish from {first}.",
                details={
                    "notice_ends_on": locked.notice_ends_on.isoformat()
                    if locked.notice_ends_on
                    else None,
                    "publishable_from": first.isoformat(),
                },
            )
        if Objection.objects.filter(entry=locked, status=Objection.Status.OPEN).exists():
            raise Conflict(
                "An objection to this entry waits for a decision.", code="objection_open"
            )
        try:
            period = publication_period(get_list(locked.list_code), day)
        except ListCatalogueError as exc:
            raise Conflict(str(exc), code="no_period_for_level") from exc
        _move(
            locked,
            "publish",
            actor=actor,
            reason=reason,
            at=_moment(day),
            data={"period_rule": period.rule},
            published_on=day,
            repair_allowed_from=period.repair_allowed_from,
            publication_ends_on=period.publication_ends_on,
            period_rule=period.rule,
        )
    return _refresh(entry, locked)


def entry_withdraw(*, entry: ListEntry, actor: Any, reason: str) -> ListEntry:
    """Withdraw a proposal before publication (PROPOSED/NOTICED → WITHDRAWN)."""
    reason = _require_text(reason)
    with transaction.atomic():
        locked = _lock(entry)
        _authorise_decide(actor, locked.department)
        _move(locked, "withdraw", actor=actor, reason=reason, at=timezone.now())
    return _refresh(entry, locked)


def entry_remove(*, entry: ListEntry, actor: Any, reason: str) -> ListEntry:
    """End a publication by decision (PUBLISHED → REMOVED), e.g. a court lifts the listing."""
    reason = _require_text(reason)
    with transaction.atomic():
        locked = _lock(entry)
        _authorise_decide(actor, locked.department)
        _move(locked, "remove", actor=actor, reason=reason, at=timezone.now(), ended_on=_today())
    return _refresh(entry, locked)


def entries_expire(*, today: dt.date | None = None, progress: Any = None) -> dict[str, Any]:
    """End the publication of every published entry whose ``publication_ends_on`` has come
    (PUBLISHED → EXPIRED, ``ended_on`` = that day). Returns counts per list.

    ``today`` is not checked against the clock (tests, replays); the command and
    :func:`entries_expire_start` refuse a future day."""
    today = today or _today()
    ids = list(
        ListEntry.objects.filter(state=State.PUBLISHED, publication_ends_on__lte=today).values_list(
            "pk", flat=True
        )
    )
    if progress is not None:
        progress.set_total(len(ids))
    by_list: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        with transaction.atomic():
            qs = (
                ListEntry.objects.select_for_update()
                .filter(pk__in=chunk, state=State.PUBLISHED, publication_ends_on__lte=today)
                .order_by("pk")
            )
            for entry in qs:
                ends = entry.publication_ends_on
                _move(
                    entry,
                    "expire",
                    actor=None,
                    reason=REASON_EXPIRED.format(day=ends),
                    at=timezone.now(),
                    data={"publication_ends_on": ends},
                    ended_on=ends,
                )
                by_list[entry.list_code] = by_list.get(entry.list_code, 0) + 1
        if progress is not None:
            progress.advance(len(chunk))
    return {"today": today.isoformat(), "expired": sum(by_list.values()), "lists": by_list}


def entries_expire_start(*, actor: Any = None, today: dt.date | None = None) -> Job:
    """Queue a ``lists_expire`` job (expiry, then the flags on missed deadlines); city-wide roles
    only (or the platform itself, without an actor). ``today`` may not be in the future."""
    if actor is not None and not getattr(actor, "is_citywide", False):
        raise PermissionDenied("Only city-wide roles run the expiry job.", code="forbidden")
    day = effective_day(today)
    job = job_create(
        kind="lists_expire",
        title=f"List expiry and deadlines on {day}",
        params={"today": day.isoformat()},
        user=actor,
    )
    Job.objects.filter(pk=job.pk).update(unit="entries")
    return job_enqueue(job)


@daily("lists_expire", "end publications whose period has run out; flag missed deadlines")
def _expire_daily(day: dt.date) -> Job:
    return entries_expire_start(today=day)


@job_kind("lists_expire")
def _expire_job(job: Job, progress: Any) -> dict[str, Any]:
    today = dt.date.fromisoformat(job.params["today"]) if job.params.get("today") else None
    outcome = entries_expire(today=today, progress=progress)
    flagged = deadlines_flag(today=today)
    outcome["overdue_flagged"] = len(flagged)
    outcome["overdue"] = flagged
    return outcome


# --------------------------------------------------------------------------------------------
# Evidence files
# --------------------------------------------------------------------------------------------


def _chunks_of(upload: Any) -> Iterable[bytes]:
    if hasattr(upload, "chunks"):
        yield from upload.chunks()
        return
    data = upload.read()
    yield data.encode() if isinstance(data, str) else data


def evidence_keep(uploads: Sequence[Any]) -> list[dict[str, Any]]:
    """Keep uploaded evidence under ``FILES_ROOT/evidence/<yyyy>/<mm>/<sha256>.<ext>``
    (content-addressed, hashed while copied, like submitted files).

    ``uploads``: objects with ``name`` and ``chunks()`` or ``read()``. Refusals (400):
    ``too_many_files``, ``evidence_type_not_allowed``, ``evidence_too_large``, ``evidence_empty``.
    """
    if len(uploads) > EVIDENCE_MAX_FILES:
        raise ValidationFailed(
            f"At most {EVIDENCE_MAX_FILES} evidence files.",
            code="too_many_files",
            details={"max": EVIDENCE_MAX_FILES},
        )
    root = Path(settings.FILES_ROOT)
    now = timezone.localtime()
    kept = []
    for upload in uploads:
        name = os.path.basename(str(getattr(upload, "name", "") or "evidence"))[:200]
        ext = os.path.splitext(name)[1].lower().lstrip(".")
        if ext not in EVIDENCE_EXTENSIONS:
            raise ValidationFailed(
                f"Evidence of type .{ext or '?'} is not accepted.",
                code="evidence_type_not_allowed",
                details={"name": name, "allowed": sorted(EVIDENCE_EXTENSIONS)},
            )
        tmp_dir = root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f"{uuid.uuid4().hex}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with tmp.open("wb") as out:
                for chunk in _chunks_of(upload):
                    size += len(chunk)
                    if size > EVIDENCE_MAX_BYTES:
                        raise ValidationFailed(
                            f"{name} is larger than {EVIDENCE_MAX_BYTES // (1024 * 1024)} MB.",
                            code="evidence_too_large",
                            details={"name": name, "max_bytes": EVIDENCE_MAX_BYTES},
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise ValidationFailed(f"{name} is empty.", code="evidence_empty")
            sha = digest.hexdigest()
            rel = f"evidence/{now:%Y}/{now:%m}/{sha}.{ext}"
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists():
                tmp.unlink()
            else:
                os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        kept.append({"name": name, "path": rel, "sha256": sha, "size": size})
    return kept


# --------------------------------------------------------------------------------------------
# Objections
# --------------------------------------------------------------------------------------------

OBJECTIONABLE = frozenset({State.NOTICED, State.PUBLISHED})


def objection_file(
    *,
    actor: Any,
    entry: ListEntry | None = None,
    record: Record | None = None,
    text: str,
    evidence_files: Sequence[Any] = (),
) -> Objection:
    """A subject objects to a list entry (noticed or published) or to a credit record.

    Filed by the enterprise user bound to the subject, or by staff on its behalf (city-wide
    roles, officers of the deciding department). The deciding department is the entry's owner
    or the record's submitter; it decides by ``due_on`` (``objection_decision_working_days``).
    Refusals: 400 ``objection_target`` (give exactly one of entry and record), 409
    ``illegal_transition`` (an entry not noticed or published), 409 ``objection_open`` (one
    objection at a time per target).
    """
    if (entry is None) == (record is None):
        raise ValidationFailed(
            "Object to either a list entry or a record.", code="objection_target"
        )
    text = _require_text(text, "text")
    if entry is not None:
        entry = ListEntry.objects.select_related("subject", "department").get(pk=entry.pk)
        subject, department = entry.subject, entry.department
    else:
        record = Record.objects.select_related("subject", "department").get(pk=record.pk)
        subject, department = record.subject, record.department
    _authorise_subject(actor, subject, department)
    kept = evidence_keep(list(evidence_files))
    now = timezone.now()
    user, client = _user_or_client(actor)
    try:
        with transaction.atomic():
            if entry is not None:
                entry = _lock(entry)
                if entry.state not in OBJECTIONABLE:
                    raise _illegal("list entry", entry.state, "object to", OBJECTIONABLE)
            objection = Objection(
                subject=subject,
                entry=entry,
                record=record,
                department=department,
                text=text,
                evidence=kept,
                filed_by=user,
                filed_by_client=client,
                filed_at=now,
                due_on=_deadline(timezone.localdate(now), "objection_decision_working_days"),
            )
            objection.save()
            if entry is not None:
                _event(
                    entry,
                    Kind.OBJECTION_FILED,
                    actor=actor,
                    reason=text,
                    at=now,
                    data={
                        "objection_id": objection.pk,
                        "due_on": objection.due_on,
                        "evidence": [f["sha256"] for f in kept],
                    },
                )
    except IntegrityError:
        raise Conflict(
            "An objection to this waits for a decision already.", code="objection_open"
        ) from None
    return objection


def _lock_objection(objection: Objection) -> Objection:
    return (
        Objection.objects.select_for_update()
        .select_related("department", "subject")
        .get(pk=objection.pk)
    )


def objection_decide(*, actor: Any, objection: Objection, upheld: bool, reason: str) -> Objection:
    """The deciding department upholds or rejects an open objection.

    Upheld against a published entry: the entry is removed (``objection_upheld``); against a
    noticed one: withdrawn. A rejected objection leaves the entry as it is. Objections to
    records are decided here too; correcting the record is the department's resubmission.
    """
    reason = _require_text(reason)
    with transaction.atomic():
        locked = _lock_objection(objection)
        _authorise_decide(actor, locked.department)
        if locked.status != Objection.Status.OPEN:
            raise _illegal("objection", locked.status, "decide", [Objection.Status.OPEN])
        now = timezone.now()
        user, client = _user_or_client(actor)
        locked.status = Objection.Status.UPHELD if upheld else Objection.Status.REJECTED
        locked.decided_at = now
        locked.decided_by, locked.decided_by_client = user, client
        locked.decision_reason = reason
        locked.save()
        if locked.entry_id:
            entry = _lock(locked.entry_id)
            data = {"objection_id": locked.pk}
            if not upheld:
                _event(
                    entry, Kind.OBJECTION_REJECTED, actor=actor, reason=reason, at=now, data=data
                )
            elif entry.state == State.PUBLISHED:
                _move(
                    entry,
                    "remove",
                    actor=actor,
                    reason=REASON_OBJECTION_UPHELD.format(reason=reason),
                    at=now,
                    kind=Kind.OBJECTION_UPHELD,
                    data=data,
                    ended_on=_today(),
                )
            elif entry.state in (State.PROPOSED, State.NOTICED):
                _move(
                    entry,
                    "withdraw",
                    actor=actor,
                    reason=REASON_OBJECTION_UPHELD.format(reason=reason),
                    at=now,
                    kind=Kind.OBJECTION_UPHELD,
                    data=data,
                )
            else:  # ended meanwhile (expired, repaired): the decision is history only
                _event(entry, Kind.OBJECTION_UPHELD, actor=actor, reason=reason, at=now, data=data)
    return _refresh(objection, locked)


def objection_withdraw(*, actor: Any, objection: Objection, reason: str = "") -> Objection:
    """The subject (or staff on its behalf) withdraws its open objection."""
    with transaction.atomic():
        locked = _lock_objection(objection)
        _authorise_subject(actor, locked.subject, locked.department)
        if locked.status != Objection.Status.OPEN:
            raise _illegal("objection", locked.status, "withdraw", [Objection.Status.OPEN])
        now = timezone.now()
        locked.status = Objection.Status.WITHDRAWN
        locked.decided_at = now
        locked.decision_reason = (reason or "").strip()
        locked.save()
        if locked.entry_id:
            _event(
                _lock(locked.entry_id),
                Kind.OBJECTION_WITHDRAWN,
                actor=actor,
                reason=locked.decision_reason,
                at=now,
                data={"objection_id": locked.pk},
            )
    return _refresh(objection, locked)


# --------------------------------------------------------------------------------------------
# Credit repair
# --------------------------------------------------------------------------------------------


def repair_apply(
    *, actor: Any, entry: ListEntry, commitment: str, evidence_files: Sequence[Any]
) -> RepairApplication:
    """The subject applies for credit repair of a published black- or watch-list entry.

    Allowed from ``repair_allowed_from`` on (409 ``repair_too_early`` with that date); red-list
    entries have no repair (409 ``repair_not_applicable``); one open application at a time
    (409 ``repair_open``). The commitment and at least one proof that the penalty was fulfilled
    are required. The owning department decides by ``due_on`` (``repair_decision_working_days``).
    """
    commitment = _require_text(commitment, "commitment")
    if not evidence_files:
        raise ValidationFailed(
            "Proof that the penalty was fulfilled is required.", code="evidence_required"
        )
    fresh = ListEntry.objects.select_related("subject", "department").get(pk=entry.pk)
    _authorise_subject(actor, fresh.subject, fresh.department)
    ld = get_list(fresh.list_code)
    if ld.is_red:
        raise Conflict("Red-list entries have no credit repair.", code="repair_not_applicable")
    if fresh.state != State.PUBLISHED:
        raise _illegal("list entry", fresh.state, "repair", [State.PUBLISHED])
    today = _today()
    if fresh.repair_allowed_from is None or today < fresh.repair_allowed_from:
        raise RepairTooEarly(
            f"Credit repair may be applied for from {fresh.repair_allowed_from}.",
            details={
                "repair_allowed_from": fresh.repair_allowed_from.isoformat()
                if fresh.repair_allowed_from
                else None
            },
        )
    kept = evidence_keep(list(evidence_files))
    user, client = _user_or_client(actor)
    now = timezone.now()
    try:
        with transaction.atomic():
            locked = _lock(fresh)
            if locked.state != State.PUBLISHED:
                raise _illegal("list entry", locked.state, "repair", [State.PUBLISHED])
            application = RepairApplication(
                entry=locked,
                subject=locked.subject,
                commitment=commitment,
                evidence=kept,
                filed_by=user,
                filed_by_client=client,
                filed_at=now,
                due_on=_deadline(timezone.localdate(now), "repair_decision_working_days"),
            )
            application.save()
            _event(
                locked,
                Kind.REPAIR_APPLIED,
                actor=actor,
                reason=commitment,
                at=now,
                data={
                    "repair_id": application.pk,
                    "due_on": application.due_on,
                    "evidence": [f["sha256"] for f in kept],
                },
            )
    except IntegrityError:
        raise Conflict(
            "A repair application for this entry waits for a decision already.",
            code="repair_open",
        ) from None
    return application


def repair_decide(
    *, actor: Any, application: RepairApplication, approved: bool, reason: str
) -> RepairApplication:
    """The owning department decides a repair application.

    Approval ends the publication (PUBLISHED → REPAIRED, ``ended_on`` today); rejection keeps
    the entry published.
    """
    reason = _require_text(reason)
    with transaction.atomic():
        locked = (
            RepairApplication.objects.select_for_update()
            .select_related("entry__department")
            .get(pk=application.pk)
        )
        entry = _lock(locked.entry_id)
        _authorise_decide(actor, entry.department)
        if locked.status != RepairApplication.Status.OPEN:
            raise _illegal("repair application", locked.status, "decide", ["open"])
        now = timezone.now()
        user, client = _user_or_client(actor)
        locked.status = (
            RepairApplication.Status.APPROVED if approved else RepairApplication.Status.REJECTED
        )
        locked.decided_at = now
        locked.decided_by, locked.decided_by_client = user, client
        locked.decision_reason = reason
        locked.save()
        data = {"repair_id": locked.pk}
        if not approved:
            _event(entry, Kind.REPAIR_REJECTED, actor=actor, reason=reason, at=now, data=data)
        elif entry.state == State.PUBLISHED:
            _move(
                entry,
                "repair",
                actor=actor,
                reason=REASON_REPAIRED.format(reason=reason),
                at=now,
                data=data,
                ended_on=_today(),
            )
        else:  # ended meanwhile: the approval is history only
            _event(entry, Kind.REPAIR_APPROVED, actor=actor, reason=reason, at=now, data=data)
    return _refresh(application, locked)


# --------------------------------------------------------------------------------------------
# Deadlines
# --------------------------------------------------------------------------------------------


def deadlines_flag(*, today: dt.date | None = None) -> list[dict[str, Any]]:
    """Flag open objections and repair applications whose ``due_on`` has passed without a
    decision: ``overdue_flagged_at`` is set (once) and the entry gets a ``deadline_missed``
    event. Returns the newly flagged items (see ``selectors.overdue_items`` for all overdue)."""
    today = today or _today()
    flagged: list[dict[str, Any]] = []
    now = timezone.now()
    kinds = (
        (Objection, ("department", "subject"), "objection_id"),
        (RepairApplication, ("entry__department", "subject"), "repair_id"),
    )
    for model, related, key in kinds:
        pending = model.objects.filter(
            status="open", due_on__lt=today, overdue_flagged_at__isnull=True
        ).values_list("pk", flat=True)
        for pk in list(pending):
            with transaction.atomic():
                item = model.objects.select_for_update().select_related(*related).get(pk=pk)
                if item.status != "open" or item.overdue_flagged_at is not None:
                    continue
                item.overdue_flagged_at = now
                item.save()
                if item.entry_id:  # an objection may concern a record, not an entry
                    _event(
                        _lock(item.entry_id),
                        Kind.DEADLINE_MISSED,
                        actor=None,
                        at=now,
                        data={key: item.pk, "due_on": item.due_on},
                    )
            flagged.append(selectors.overdue_item_dict(item))
    if flagged:
        log.warning("%d list decisions overdue on %s", len(flagged), today)
    return flagged
