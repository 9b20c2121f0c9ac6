"""Web pages of the lists app: the catalogue, entries and their lifecycle, objections and credit
repair, decisions overdue, rule proposals as jobs, and the enterprise user's own page.

Thin: parse, authorise, call ``services`` (writes) and ``selectors`` (reads), shape for the
templates. Every act needs a reason; an act refused by a service (an illegal transition, the
notice period still running, repair asked too early, …) comes back as an error on its form, a
refused permission as 403.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualitycity.core import ui_selectors
from qualitycity.core.errors import ApplicationError, NotFound, PermissionDenied, Unauthenticated
from qualitycity.core.models import Department, Job, Role
from qualitycity.core.permissions import has_scope
from qualitycity.records.models import Record
from qualitycity.records.selectors import dataset_name
from qualitycity.subjects.models import Subject
from qualitycity.subjects.selectors import subject_get

from . import selectors, services
from .catalogue import get_list, lists
from .forms import (
    EntryFilterForm,
    ObjectionDecisionForm,
    ObjectionForm,
    ProposeForm,
    ReasonForm,
    RecordObjectionForm,
    RepairDecisionForm,
    RepairForm,
    RequestFilterForm,
    WithdrawObjectionForm,
)
from .models import ListEntry, ListEntryEvent, Objection, RepairApplication

PAGE_SIZE = 50
# The record objection form offers the subject's newest records.
RECORD_CHOICES_MAX = 500

STATE_LABELS = dict(ListEntry.State.choices)
STATES = list(ListEntry.State.values)
ACTIONS = {
    "notice": (services.entry_notice, gettext_lazy("Give notice to the subject")),
    "publish": (services.entry_publish, gettext_lazy("Publish")),
    "withdraw": (services.entry_withdraw, gettext_lazy("Withdraw the proposal")),
    "remove": (services.entry_remove, gettext_lazy("Remove from the list")),
}
DONE_MESSAGES = {
    "notice": gettext_lazy("Notice given. The subject may object until %(day)s."),
    "publish": gettext_lazy("Published."),
    "withdraw": gettext_lazy("The proposal was withdrawn."),
    "remove": gettext_lazy("Removed from the list."),
}


def _zh() -> bool:
    return not (get_language() or "").startswith("en")


def _is_enterprise(user: Any) -> bool:
    return getattr(user, "role", None) == Role.ENTERPRISE and not user.is_superuser


def _require_read(user: Any) -> None:
    if not has_scope(user, "lists.read"):
        raise DjangoPermissionDenied(_("You may not see list entries."))


def _forbidden(exc: ApplicationError | None = None) -> DjangoPermissionDenied:
    if exc is not None and exc.code == "forbidden_department":
        dept = (exc.details or {}).get("department", "")
        return DjangoPermissionDenied(
            _("Only the owning department (%(department)s) decides this.")
            % {"department": _department_name(dept)}
        )
    if exc is not None and exc.code == "not_bound_to_subject":
        return DjangoPermissionDenied(_("You may act for your own enterprise only."))
    return DjangoPermissionDenied(_("You may not do this."))


def _department_name(code: str) -> str:
    dept = Department.objects.filter(code=code).first()
    return dept.name if dept else code


def error_message(exc: ApplicationError) -> str:
    """A refusal of a lists service in the user's language (the services speak English)."""
    d = exc.details if isinstance(exc.details, dict) else {}
    code = exc.code
    if code == "illegal_transition":
        state = d.get("state", "")
        label = STATE_LABELS.get(state) or dict(Objection.Status.choices).get(state) or state
        return _("Not possible now: the %(object)s is “%(state)s”.") % {
            "object": {
                "list entry": _("entry"),
                "objection": _("objection"),
                "repair application": _("repair application"),
            }.get(d.get("object", ""), d.get("object", "")),
            "state": label,
        }
    if code == "notice_period_running":
        if not d.get("notice_ends_on"):
            return _("Give notice to the subject before publishing.")
        return _(
            "The notice period runs until %(ends)s: the subject may object until then. "
            "Publish on or after %(first)s."
        ) % {"ends": d.get("notice_ends_on"), "first": d.get("publishable_from")}
    if code == "objection_open":
        return _("An objection waits for a decision: decide it first.")
    if code == "repair_too_early":
        return _("Credit repair may be applied for from %(day)s.") % {
            "day": d.get("repair_allowed_from") or "—"
        }
    if code == "repair_not_applicable":
        return _("Red-list entries have no credit repair.")
    if code == "repair_open":
        return _("A repair application for this entry waits for a decision already.")
    if code == "entry_exists":
        return _("The subject is already on this list, or proposed for it.")
    if code == "reason_required":
        return _("Give a reason: it is written into the entry's history.")
    if code == "text_required":
        return _("Say what you object to and why.")
    if code == "commitment_required":
        return _("Write the credit commitment.")
    if code == "evidence_required":
        return _("Attach at least one proof that the penalty was fulfilled.")
    if code == "too_many_files":
        return _("At most %(n)s evidence files.") % {"n": d.get("max", "")}
    if code == "evidence_type_not_allowed":
        return _("Files of this type are not accepted as evidence: %(name)s") % {
            "name": d.get("name", "")
        }
    if code == "evidence_too_large":
        return _("The file is too large: %(name)s") % {"name": d.get("name", "")}
    if code == "evidence_empty":
        return _("An evidence file is empty.")
    if code == "subject_not_registered":
        return _("No subject is registered under this code.")
    if code == "no_period_for_level":
        return _("No publication period is configured for this list's level on that day.")
    if code == "unknown_list":
        return _("There is no such list.")
    if d.get("check") or d.get("field") == "code":
        return _("This is not a valid code: %(message)s") % {"message": exc.message}
    return exc.message


def _call(form: Any, fn: Any, **kwargs: Any) -> tuple[Any, int]:
    """Call a service; a refusal becomes an error on ``form`` (and its HTTP status), a refused
    permission a 403."""
    try:
        return fn(**kwargs), 200
    except (PermissionDenied, Unauthenticated) as exc:
        raise _forbidden(exc) from exc
    except ApplicationError as exc:
        form.add_error(None, error_message(exc))
        return None, exc.status


def _subject(subject: Subject, masked: bool) -> dict[str, Any]:
    brief = selectors.subject_brief(subject, masked=masked)
    brief["file_url"] = (
        "" if brief["masked"] else reverse("records:credit_file", kwargs={"code": subject.code})
    )
    return brief


def _who(user: Any, client: Any = None) -> str:
    if client is not None:
        return client.name
    if user is None:
        return ""
    return user.display_name or user.get_username()


def _evidence(kind: str, obj: Any) -> list[dict[str, Any]]:
    name = "lists:objection_evidence" if kind == "objection" else "lists:repair_evidence"
    return [
        {
            "name": f.get("name", ""),
            "size": f.get("size", 0),
            "sha256": f.get("sha256", ""),
            "url": reverse(name, kwargs={"pk": obj.pk, "sha256": f.get("sha256", "")}),
        }
        for f in (obj.evidence or [])
    ]


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


# --------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------


def _decidable_lists(user: Any) -> list[str]:
    """Lists whose entries the user may propose and move."""
    departments = {d.code: d.pk for d in Department.objects.all()}
    return [
        c for c, ld in lists().items() if selectors.can_decide(user, departments.get(ld.department))
    ]


def _rule_lists(user: Any) -> list[str]:
    """Lists with a proposal rule that the user may run."""
    return [c for c in _decidable_lists(user) if lists()[c].rule is not None]


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The catalogue: each list with its owner, basis, period and entries per state."""
    user = request.user
    if _is_enterprise(user):
        return redirect("lists:mine")
    _require_read(user)
    counts: dict[tuple[str, str], int] = {
        (row["list_code"], row["state"]): row["n"]
        for row in ListEntry.objects.restrict(user, "view")
        .values("list_code", "state")
        .annotate(n=Count("id"))
        .order_by()
    }
    names = {d.code: d.name for d in Department.objects.all()}
    rows = []
    for item in selectors.catalogue_list():
        code = item["code"]
        rows.append(
            {
                **item,
                "department_name": names.get(item["department"], item["department"]),
                "states": [(s, counts.get((code, s), 0)) for s in STATES],
                "total": sum(counts.get((code, s), 0) for s in STATES),
            }
        )
    totals = [(s, sum(counts.get((r["code"], s), 0) for r in rows)) for s in STATES]
    return render(
        request,
        "lists/index.html",
        {
            "rows": rows,
            "states": [(s, STATE_LABELS[s]) for s in STATES],
            "totals": totals,
            "can_propose": bool(_decidable_lists(user)),
            "rule_lists": ("、" if _zh() else ", ").join(
                lists()[c].name(_zh()) for c in _rule_lists(user)
            ),
            "can_expire": getattr(user, "is_citywide", False),
            "overdue": len(selectors.overdue_items(actor=user))
            if has_scope(user, "lists.decide")
            else None,
        },
    )


# --------------------------------------------------------------------------------------------
# Entries
# --------------------------------------------------------------------------------------------


@login_required
def entries(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require_read(user)
    form = EntryFilterForm(request.GET or None, zh=_zh())
    filters = form.cleaned_data if form.is_valid() else {}
    subject = None
    failed = False
    if filters.get("subject"):
        try:
            subject = subject_get(code=filters["subject"])
        except ApplicationError as exc:
            form.add_error("subject", error_message(exc))
            failed = True
    qs = selectors.entry_list(
        actor=user,
        list_code=filters.get("list") or None,
        state=filters.get("state") or None,
        department=filters.get("department") or None,
        subject=subject,
    )
    if failed:
        qs = qs.none()
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    items = list(page.object_list)
    masked = selectors.masked_for(user, [e.subject for e in items], "web:list_entries")
    under = selectors.entry_under_objection([e.pk for e in items])
    rows = [
        {
            "entry": e,
            "list": selectors.list_brief(e.list_code),
            "subject": _subject(e.subject, masked),
            "under_objection": under.get(e.pk),
        }
        for e in items
    ]
    return render(
        request,
        "lists/entries.html",
        {"form": form, "page": page, "rows": rows, "query": _query(request)},
    )


def _event_row(event: ListEntryEvent) -> dict[str, Any]:
    data = event.data if isinstance(event.data, dict) else {}
    notice = data.get("notice") if isinstance(data.get("notice"), dict) else {}
    if event.api_client_id:
        who, kind = event.api_client.name, "api_client"
    elif event.actor_id:
        who, kind = _who(event.actor), "user"
    else:
        who, kind = _("the platform"), "system"
    return {
        "event": event,
        "label": str(event.get_kind_display()),
        "from": str(STATE_LABELS.get(event.from_state, "")),
        "to": str(STATE_LABELS.get(event.to_state, "")),
        "moved": event.from_state != event.to_state,
        "who": who,
        "who_kind": kind,
        "objection_deadline": notice.get("objection_deadline"),
        "due_on": data.get("due_on"),
        "objection_id": data.get("objection_id"),
        "repair_id": data.get("repair_id"),
    }


def _period_rule(rule: dict[str, Any]) -> dict[str, Any] | None:
    if not rule:
        return None
    return {**rule, "red": rule.get("kind") == "red"}


def _entry_context(
    request: HttpRequest, pk: int, bound: dict[str, Any] | None = None
) -> dict[str, Any]:
    user = request.user
    bound = bound or {}
    try:
        detail = selectors.entry_detail(actor=user, entry_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    entry = detail.entry
    today = timezone.localdate()
    ld = detail.list_def
    visible_objections = set(
        Objection.objects.restrict(user, "view").filter(entry=entry).values_list("pk", flat=True)
    )
    visible_repairs = set(
        RepairApplication.objects.restrict(user, "view")
        .filter(entry=entry)
        .values_list("pk", flat=True)
    )
    objections = []
    for o in detail.objections:
        if o.pk not in visible_objections:
            continue
        key = f"objection-{o.pk}"
        is_open = o.status == Objection.Status.OPEN
        objections.append(
            {
                "obj": o,
                "filed_by": _who(o.filed_by, o.filed_by_client),
                "decided_by": _who(o.decided_by, o.decided_by_client),
                "evidence": _evidence("objection", o),
                "overdue": is_open and o.due_on < today,
                "decide_form": (bound.get(key) or ObjectionDecisionForm(prefix=key))
                if is_open and detail.can_decide
                else None,
                "withdraw_form": (
                    bound.get(f"withdraw-{o.pk}")
                    or WithdrawObjectionForm(prefix=f"withdraw-{o.pk}")
                )
                if is_open and detail.can_object
                else None,
            }
        )
    repairs = []
    for r in detail.repairs:
        if r.pk not in visible_repairs:
            continue
        key = f"repair-{r.pk}"
        is_open = r.status == RepairApplication.Status.OPEN
        repairs.append(
            {
                "obj": r,
                "filed_by": _who(r.filed_by, r.filed_by_client),
                "decided_by": _who(r.decided_by, r.decided_by_client),
                "evidence": _evidence("repair", r),
                "overdue": is_open and r.due_on < today,
                "decide_form": (bound.get(key) or RepairDecisionForm(prefix=key))
                if is_open and detail.can_decide
                else None,
            }
        )
    actions = []
    if detail.can_decide:
        for action in detail.actions:
            actions.append(
                {
                    "action": action,
                    "label": ACTIONS[action][1],
                    "form": bound.get(action) or ReasonForm(prefix=action),
                    "publishable": action != "publish"
                    or (entry.notice_ends_on is not None and today > entry.notice_ends_on),
                }
            )
    object_form = repair_form = None
    repair_from = None
    if detail.can_object:
        if entry.state in services.OBJECTIONABLE and detail.open_objection is None:
            object_form = bound.get("object") or ObjectionForm(prefix="object")
        if (
            entry.state == ListEntry.State.PUBLISHED
            and ld is not None
            and not ld.is_red
            and detail.open_repair is None
        ):
            if entry.repair_allowed_from and today >= entry.repair_allowed_from:
                repair_form = bound.get("repair") or RepairForm(prefix="repair")
            else:
                repair_from = entry.repair_allowed_from
    # A refused act whose form is not on the page (the entry moved meanwhile): its errors on top.
    shown = {a["action"] for a in actions}
    shown |= {f"objection-{i['obj'].pk}" for i in objections if i["decide_form"]}
    shown |= {f"withdraw-{i['obj'].pk}" for i in objections if i["withdraw_form"]}
    shown |= {f"repair-{i['obj'].pk}" for i in repairs if i["decide_form"]}
    if object_form is not None:
        shown.add("object")
    if repair_form is not None:
        shown.add("repair")
    stray = [
        str(error)
        for key, form in bound.items()
        if key not in shown
        for errors in form.errors.values()
        for error in errors
    ]
    return {
        "errors": stray,
        "detail": detail,
        "entry": entry,
        "list": selectors.list_brief(entry.list_code),
        "list_def": ld,
        "subject": _subject(entry.subject, detail.masked),
        "events": [_event_row(e) for e in detail.events],
        "period_rule": _period_rule(entry.period_rule),
        "objections": objections,
        "repairs": repairs,
        "actions": actions,
        "object_form": object_form,
        "repair_form": repair_form,
        "repair_from": repair_from,
        "under_objection": detail.open_objection,
        "on_behalf": not _is_enterprise(request.user),
        "in_force": entry.state == ListEntry.State.PUBLISHED
        and (entry.publication_ends_on is None or entry.publication_ends_on > today),
        "today": today,
        "source_record": entry.source_record,
        "source_record_dataset": dataset_name(entry.source_record.dataset)
        if entry.source_record
        else "",
    }


def _entry_page(
    request: HttpRequest, pk: int, bound: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    return render(request, "lists/entry.html", _entry_context(request, pk, bound), status=status)


@login_required
def entry(request: HttpRequest, pk: int) -> HttpResponse:
    _require_read(request.user)
    return _entry_page(request, pk)


def _entry_or_404(user: Any, pk: int) -> ListEntry:
    try:
        return selectors.entry_get(actor=user, entry_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_POST
def entry_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Notice, publish, withdraw or remove an entry (the owning department), with a reason."""
    if action not in ACTIONS:
        raise Http404(_("No such action."))
    user = request.user
    entry = _entry_or_404(user, pk)
    if not selectors.can_decide(user, entry.department_id):
        raise DjangoPermissionDenied(
            _("Only the owning department (%(department)s) decides this.")
            % {"department": entry.department.name}
        )
    form = ReasonForm(request.POST, prefix=action)
    status = 400
    if form.is_valid():
        done, status = _call(
            form, ACTIONS[action][0], entry=entry, actor=user, reason=form.cleaned_data["reason"]
        )
        if done is not None:
            messages.success(
                request,
                DONE_MESSAGES[action] % {"day": done.notice_ends_on or ""},
            )
            return redirect("lists:entry", pk=pk)
    return _entry_page(request, pk, {action: form}, status=status)


@login_required
@require_POST
def entry_object(request: HttpRequest, pk: int) -> HttpResponse:
    """The subject (or staff on its behalf) objects to an entry, with evidence files."""
    user = request.user
    entry = _entry_or_404(user, pk)
    if not selectors.can_act_for_subject(user, entry.subject_id, entry.department_id):
        raise _forbidden()
    form = ObjectionForm(request.POST, request.FILES, prefix="object")
    status = 400
    if form.is_valid():
        objection, status = _call(
            form,
            services.objection_file,
            actor=user,
            entry=entry,
            text=form.cleaned_data["text"],
            evidence_files=form.cleaned_data["evidence"],
        )
        if objection is not None:
            messages.success(
                request,
                _("Your objection was filed. The department decides by %(day)s.")
                % {"day": objection.due_on},
            )
            return redirect("lists:entry", pk=pk)
    return _entry_page(request, pk, {"object": form}, status=status)


@login_required
@require_POST
def entry_repair(request: HttpRequest, pk: int) -> HttpResponse:
    """The subject applies for credit repair of a published entry."""
    user = request.user
    entry = _entry_or_404(user, pk)
    if not selectors.can_act_for_subject(user, entry.subject_id, entry.department_id):
        raise _forbidden()
    form = RepairForm(request.POST, request.FILES, prefix="repair")
    status = 400
    if form.is_valid():
        application, status = _call(
            form,
            services.repair_apply,
            actor=user,
            entry=entry,
            commitment=form.cleaned_data["commitment"],
            evidence_files=form.cleaned_data["evidence"],
        )
        if application is not None:
            messages.success(
                request,
                _(
                    "Your application for credit repair was filed. The department decides by "
                    "%(day)s."
                )
                % {"day": application.due_on},
            )
            return redirect("lists:entry", pk=pk)
    return _entry_page(request, pk, {"repair": form}, status=status)


@login_required
def propose(request: HttpRequest) -> HttpResponse:
    """An officer's manual proposal: list, subject, reason. Nothing is published."""
    user = request.user
    codes = _decidable_lists(user)
    if not codes:
        raise DjangoPermissionDenied(_("You may not propose list entries."))
    form = ProposeForm(request.POST or None, codes=codes, zh=_zh())
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                subject = subject_get(code=data["subject"])
            except ApplicationError as exc:
                form.add_error("subject", error_message(exc))
            else:
                created, status = _call(
                    form,
                    services.entry_propose,
                    list_code=data["list_code"],
                    subject=subject,
                    reason=data["reason"],
                    actor=user,
                )
                if created is not None:
                    messages.success(
                        request, _("Proposed. Give the subject notice before publishing.")
                    )
                    return redirect("lists:entry", pk=created.pk)
    return render(request, "lists/propose.html", {"form": form}, status=status)


# --------------------------------------------------------------------------------------------
# Jobs: proposals from rules, expiry
# --------------------------------------------------------------------------------------------


@login_required
@require_POST
def rules_run(request: HttpRequest) -> HttpResponse:
    """Run the lists' rules (the user's own department's lists) as a job."""
    user = request.user
    if not _rule_lists(user):
        raise DjangoPermissionDenied(_("You may not run the lists' rules."))
    try:
        job = services.entries_propose_start(actor=user)
    except (PermissionDenied, Unauthenticated) as exc:
        raise _forbidden(exc) from exc
    except ApplicationError as exc:
        messages.error(request, error_message(exc))
        return redirect("lists:index")
    return redirect("lists:job", job_id=job.pk)


@login_required
@require_POST
def expire_run(request: HttpRequest) -> HttpResponse:
    """End publications whose period has ended and flag missed deadlines (city-wide roles)."""
    user = request.user
    if not getattr(user, "is_citywide", False):
        raise DjangoPermissionDenied(_("Only city-wide roles run the expiry job."))
    try:
        job = services.entries_expire_start(actor=user)
    except ApplicationError as exc:
        raise _forbidden(exc) from exc
    return redirect("lists:job", job_id=job.pk)


def _lists_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    try:
        job = ui_selectors.job_get(user=request.user, job_id=job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if job.kind not in ("lists_propose", "lists_expire"):
        raise Http404(_("No such job."))
    return job


def _job_context(job: Job) -> dict[str, Any]:
    outcome = job.outcome if isinstance(job.outcome, dict) else {}
    params = job.params if isinstance(job.params, dict) else {}
    rows = []
    for code, counts in (outcome.get("lists") or {}).items():
        ld = lists().get(code)
        rows.append(
            {
                "code": code,
                "name": ld.name(_zh()) if ld else code,
                "counts": counts if isinstance(counts, dict) else {"expired": counts},
            }
        )
    return {
        "job": job,
        "params": params,
        "propose": job.kind == "lists_propose",
        "outcome": outcome,
        "rows": rows,
    }


@login_required
def job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    return render(request, "lists/job.html", _job_context(_lists_job(request, job_id)))


@login_required
def job_progress(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The progress partial (htmx polls it every second until the job has finished)."""
    j = _lists_job(request, job_id)
    response = render(request, "lists/_job_progress.html", _job_context(j))
    if j.is_finished:
        response["HX-Trigger"] = "jobFinished"
    return response


# --------------------------------------------------------------------------------------------
# Objections and repair applications
# --------------------------------------------------------------------------------------------


def _objection_or_404(user: Any, pk: int) -> Objection:
    try:
        return selectors.objection_get(actor=user, objection_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _repair_or_404(user: Any, pk: int) -> RepairApplication:
    try:
        return selectors.repair_get(actor=user, repair_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _objection_context(
    request: HttpRequest, objection: Objection, bound: dict[str, Any] | None = None
) -> dict[str, Any]:
    user = request.user
    bound = bound or {}
    masked = selectors.masked_for(user, [objection.subject], "web:list_objection")
    is_open = objection.status == Objection.Status.OPEN
    key = f"objection-{objection.pk}"
    record = objection.record
    item = {
        "obj": objection,
        "filed_by": _who(objection.filed_by, objection.filed_by_client),
        "decided_by": _who(objection.decided_by, objection.decided_by_client),
        "evidence": _evidence("objection", objection),
        "overdue": is_open and objection.due_on < timezone.localdate(),
        "decide_form": (bound.get(key) or ObjectionDecisionForm(prefix=key))
        if is_open and selectors.can_decide(user, objection.department_id)
        else None,
        "withdraw_form": (
            bound.get(f"withdraw-{objection.pk}")
            or WithdrawObjectionForm(prefix=f"withdraw-{objection.pk}")
        )
        if is_open
        and selectors.can_act_for_subject(user, objection.subject_id, objection.department_id)
        else None,
    }
    return {
        "objection": objection,
        "item": item,
        "subject": _subject(objection.subject, masked),
        "record": record,
        "record_dataset": dataset_name(record.dataset) if record else "",
        "entry_list": selectors.list_brief(objection.entry.list_code) if objection.entry else None,
    }


def _after_objection(request: HttpRequest, objection: Objection, bound: dict, status: int):
    """Back to the page the objection's forms are on: its entry's, or its own."""
    if objection.entry_id:
        return _entry_page(request, objection.entry_id, bound, status=status)
    return render(
        request,
        "lists/objection.html",
        _objection_context(request, objection, bound),
        status=status,
    )


def _objection_done(objection: Objection) -> HttpResponse:
    if objection.entry_id:
        return redirect("lists:entry", pk=objection.entry_id)
    return redirect("lists:objection", pk=objection.pk)


@login_required
def objection(request: HttpRequest, pk: int) -> HttpResponse:
    o = _objection_or_404(request.user, pk)
    return render(request, "lists/objection.html", _objection_context(request, o))


@login_required
@require_POST
def objection_decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    o = _objection_or_404(user, pk)
    if not selectors.can_decide(user, o.department_id):
        raise DjangoPermissionDenied(
            _("Only the owning department (%(department)s) decides this.")
            % {"department": o.department.name}
        )
    key = f"objection-{pk}"
    form = ObjectionDecisionForm(request.POST, prefix=key)
    status = 400
    if form.is_valid():
        upheld = form.cleaned_data["decision"] == "uphold"
        done, status = _call(
            form,
            services.objection_decide,
            actor=user,
            objection=o,
            upheld=upheld,
            reason=form.cleaned_data["reason"],
        )
        if done is not None:
            messages.success(
                request,
                _("The objection was upheld.") if upheld else _("The objection was rejected."),
            )
            return _objection_done(o)
    return _after_objection(request, o, {key: form}, status)


@login_required
@require_POST
def objection_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    o = _objection_or_404(user, pk)
    if not selectors.can_act_for_subject(user, o.subject_id, o.department_id):
        raise _forbidden()
    key = f"withdraw-{pk}"
    form = WithdrawObjectionForm(request.POST, prefix=key)
    status = 400
    if form.is_valid():
        done, status = _call(
            form,
            services.objection_withdraw,
            actor=user,
            objection=o,
            reason=form.cleaned_data["reason"],
        )
        if done is not None:
            messages.success(request, _("The objection was withdrawn."))
            return _objection_done(o)
    return _after_objection(request, o, {key: form}, status)


@login_required
@require_POST
def repair_decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    r = _repair_or_404(user, pk)
    if not selectors.can_decide(user, r.entry.department_id):
        raise DjangoPermissionDenied(
            _("Only the owning department (%(department)s) decides this.")
            % {"department": r.entry.department.name}
        )
    key = f"repair-{pk}"
    form = RepairDecisionForm(request.POST, prefix=key)
    status = 400
    if form.is_valid():
        approved = form.cleaned_data["decision"] == "approve"
        done, status = _call(
            form,
            services.repair_decide,
            actor=user,
            application=r,
            approved=approved,
            reason=form.cleaned_data["reason"],
        )
        if done is not None:
            messages.success(
                request,
                _("Credit repair approved: the publication has ended.")
                if approved
                else _("Credit repair rejected: the entry stays published."),
            )
            return redirect("lists:entry", pk=r.entry_id)
    return _entry_page(request, r.entry_id, {key: form}, status=status)


@login_required
def objection_evidence(request: HttpRequest, pk: int, sha256: str) -> FileResponse:
    o = _objection_or_404(request.user, pk)
    return _evidence_response(o, sha256)


@login_required
def repair_evidence(request: HttpRequest, pk: int, sha256: str) -> FileResponse:
    r = _repair_or_404(request.user, pk)
    return _evidence_response(r, sha256)


def _evidence_response(obj: Any, sha256: str) -> FileResponse:
    try:
        path, name = selectors.evidence_file(obj=obj, sha256=sha256)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return FileResponse(path.open("rb"), as_attachment=True, filename=name)


def _request_rows(items: list[Any], user: Any, kind: str) -> list[dict[str, Any]]:
    masked = selectors.masked_for(user, [i.subject for i in items], f"web:list_{kind}s")
    today = timezone.localdate()
    rows = []
    for i in items:
        entry = i.entry
        rows.append(
            {
                "obj": i,
                "subject": _subject(i.subject, masked),
                "list": selectors.list_brief(entry.list_code) if entry else None,
                "record": getattr(i, "record", None),
                "record_dataset": dataset_name(i.record.dataset)
                if getattr(i, "record", None)
                else "",
                "department": i.department if kind == "objection" else entry.department,
                "overdue": i.status == "open" and i.due_on < today,
            }
        )
    return rows


def _requests_page(request: HttpRequest, kind: str) -> HttpResponse:
    user = request.user
    citywide = getattr(user, "is_citywide", False)
    form = RequestFilterForm(request.GET or None, kind=kind, citywide=citywide)
    filters = form.cleaned_data if form.is_valid() else {}
    fn = selectors.objection_list if kind == "objection" else selectors.repair_list
    qs = fn(
        actor=user,
        status=filters.get("status") or None,
        department=filters.get("department") or None,
    )
    if kind == "repair":
        qs = qs.select_related("entry__subject")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        f"lists/{kind}s.html",
        {
            "form": form,
            "page": page,
            "rows": _request_rows(list(page.object_list), user, kind),
            "query": _query(request),
        },
    )


@login_required
def objections(request: HttpRequest) -> HttpResponse:
    return _requests_page(request, "objection")


@login_required
def repairs(request: HttpRequest) -> HttpResponse:
    return _requests_page(request, "repair")


# --------------------------------------------------------------------------------------------
# Objections to credit records
# --------------------------------------------------------------------------------------------


def _objectionable_records(user: Any, subject: Subject) -> tuple[list[Record], dict[int, dt.date]]:
    """The subject's records the user may object to for it (newest first), and those of them
    under objection already (id → due date)."""
    qs = Record.objects.restrict(user, "view").filter(subject=subject)
    if not getattr(user, "is_citywide", False) and not _is_enterprise(user):
        qs = qs.filter(department_id=getattr(user, "department_id", None))
    records = list(
        qs.select_related("department").order_by("-decision_date", "-id")[:RECORD_CHOICES_MAX]
    )
    return records, selectors.record_objection_open([r.pk for r in records])


def _record_label(record: Record) -> str:
    day = record.decision_date.isoformat() if record.decision_date else "—"
    return f"{day} · {dataset_name(record.dataset)} · {record.source_record_id}"


@login_required
def record_objection(request: HttpRequest, code: str) -> HttpResponse:
    """Object to one of a subject's credit records (its enterprise user, or staff for it)."""
    user = request.user
    if not has_scope(user, "lists.object"):
        raise _forbidden()
    try:
        subject = subject_get(code=code)
    except ApplicationError as exc:
        raise Http404(exc.message) from exc
    if _is_enterprise(user) and selectors.bound_subject_id(user) != subject.pk:
        raise DjangoPermissionDenied(_("You may act for your own enterprise only."))
    records, under = _objectionable_records(user, subject)
    choices = [(r.pk, _record_label(r)) for r in records if r.pk not in under]
    initial = {}
    if request.GET.get("record", "").isdigit():
        initial["record"] = int(request.GET["record"])
    form = RecordObjectionForm(
        request.POST or None, request.FILES or None, records=choices, initial=initial
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            record = next(r for r in records if r.pk == form.cleaned_data["record"])
            objection, status = _call(
                form,
                services.objection_file,
                actor=user,
                record=record,
                text=form.cleaned_data["text"],
                evidence_files=form.cleaned_data["evidence"],
            )
            if objection is not None:
                messages.success(
                    request,
                    _("Your objection was filed. The department decides by %(day)s.")
                    % {"day": objection.due_on},
                )
                return redirect("lists:objection", pk=objection.pk)
    masked = selectors.masked_for(user, [subject], "web:record_objection")
    return render(
        request,
        "lists/record_objection.html",
        {
            "form": form if choices else None,
            "subject": _subject(subject, masked),
            "under": [
                {"record": r, "label": _record_label(r), "due_on": under[r.pk]}
                for r in records
                if r.pk in under
            ],
        },
        status=status,
    )


# --------------------------------------------------------------------------------------------
# Overdue decisions
# --------------------------------------------------------------------------------------------


@login_required
def overdue(request: HttpRequest) -> HttpResponse:
    """Objections and repair applications past their deadline: a department's own, or all for
    the quality office."""
    user = request.user
    if not has_scope(user, "lists.decide"):
        raise DjangoPermissionDenied(_("Overdue decisions are for the deciding departments."))
    citywide = getattr(user, "is_citywide", False)
    names = {d.code: d.name for d in Department.objects.all()}
    department = request.GET.get("department") or None
    if department not in names:
        department = None
    today = timezone.localdate()
    items = selectors.overdue_items(actor=user, department=department if citywide else None)
    for item in items:
        item["department_name"] = names.get(item["department"], item["department"])
        item["days"] = (today - item["due_on"]).days
        item["url"] = (
            reverse("lists:objection", kwargs={"pk": item["id"]})
            if item["kind"] == "objection"
            else reverse("lists:entry", kwargs={"pk": item["entry_id"]})
        )
    by_department = Counter(i["department"] for i in items)
    return render(
        request,
        "lists/overdue.html",
        {
            "items": items,
            "citywide": citywide,
            "department": department,
            "departments": sorted(names.items(), key=lambda kv: kv[0]) if citywide else [],
            "by_department": [
                (code, names.get(code, code), n) for code, n in by_department.most_common()
            ],
        },
    )


# --------------------------------------------------------------------------------------------
# The enterprise user's page
# --------------------------------------------------------------------------------------------


@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The enterprise user's subject: its entries, objections and repair applications."""
    user = request.user
    if not _is_enterprise(user):
        return redirect("lists:index")
    subject_id = selectors.bound_subject_id(user)
    subject = Subject.objects.filter(pk=subject_id).first() if subject_id else None
    context: dict[str, Any] = {"bound": subject is not None}
    if subject is not None:
        today = timezone.localdate()
        own = list(selectors.entry_list(actor=user, subject=subject))
        under = selectors.entry_under_objection([e.pk for e in own])
        context.update(
            {
                "subject": _subject(subject, True),
                "subject_code": subject.code,
                "entries": [
                    {
                        "entry": e,
                        "list": selectors.list_brief(e.list_code),
                        "under_objection": under.get(e.pk),
                        "repair_allowed": e.state == ListEntry.State.PUBLISHED
                        and e.repair_allowed_from is not None
                        and e.repair_allowed_from <= today
                        and not get_list(e.list_code).is_red,
                    }
                    for e in own
                ],
                "objections": _request_rows(
                    list(selectors.objection_list(actor=user, subject=subject)), user, "objection"
                ),
                "repairs": _request_rows(
                    list(
                        selectors.repair_list(actor=user, subject=subject).select_related(
                            "entry__subject"
                        )
                    ),
                    user,
                    "repair",
                ),
            }
        )
    return render(request, "lists/mine.html", context)
