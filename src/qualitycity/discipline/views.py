"""Web pages of joint reward and punishment: run a check, record feedback, see the statistics.

Thin: parse, authorise (``discipline.check`` to check, ``discipline.feedback`` to answer), call the
services and selectors, render. The check form posts with htmx and gets the result panel back;
without JavaScript the whole page is rendered with the result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualitycity.core.errors import ApplicationError
from qualitycity.core.i18n import bilingual
from qualitycity.core.models import Department, Role
from qualitycity.core.permissions import has_scope
from qualitycity.lists import catalogue as lists_catalogue
from qualitycity.subjects.identifiers import mask_person_name
from qualitycity.subjects.models import Subject

from . import selectors, services
from .catalogue import catalogue
from .models import Check


def _zh() -> bool:
    return not (get_language() or "").startswith("en")


def _scenario_choices() -> list[tuple[str, Any]]:
    return [(s.code, bilingual(s.name_zh, s.name_en)) for s in catalogue().scenarios.values()]


class CheckForm(forms.Form):
    subject = forms.CharField(
        label=gettext_lazy("Unified social credit code or resident ID number"), max_length=40
    )
    scenario = forms.ChoiceField(label=gettext_lazy("Scenario"))
    department = forms.ChoiceField(label=gettext_lazy("Checking department"))
    date = forms.DateField(
        label=gettext_lazy("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=gettext_lazy("Lists and measures in force on this day; today if empty."),
    )

    # Error codes of the services → the field they are about.
    ERROR_FIELDS = {
        "unknown_scenario": "scenario",
        "unknown_department": "department",
        "department_mismatch": "department",
        "department_required": "department",
        "date_in_future": "date",
    }

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scenario"].choices = _scenario_choices()
        departments = Department.objects.all()
        if not user.is_citywide:
            departments = departments.filter(pk=user.department_id)
        self.fields["department"].choices = [(d.code, d.name) for d in departments]
        if user.department_id:
            self.fields["department"].initial = user.department.code
        self.fields["date"].initial = timezone.localdate()

    def add_service_error(self, exc: ApplicationError) -> None:
        field = self.ERROR_FIELDS.get(exc.code, "subject")
        self.add_error(field, _error_message(exc))


def _error_message(exc: ApplicationError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    if exc.code == "date_in_future":
        return _("A check is about today or a day that has passed.")
    if exc.code == "unknown_scenario":
        return _("There is no such scenario.")
    if exc.code in ("unknown_department", "department_mismatch", "department_required"):
        return _("You may check only for your own department.")
    if details.get("check"):
        return _("This is not a valid code.") + " " + exc.message
    return exc.message


def _require_staff(user: Any) -> None:
    # Enterprise users act for one subject: checks of others are not theirs to see.
    if getattr(user, "role", None) == Role.ENTERPRISE and not user.is_superuser:
        raise DjangoPermissionDenied(_("This page is for the staff of the city's departments."))


def _require_check(user: Any) -> None:
    if not has_scope(user, "discipline.check"):
        raise DjangoPermissionDenied(_("You may not run checks."))


def _present(result: dict[str, Any]) -> dict[str, Any]:
    """A check result with labels in the user's language."""
    zh = _zh()
    cat = catalogue()
    departments = {d.code: d.name for d in Department.objects.all()}
    scenario = cat.scenarios.get(result["scenario"])
    lists = [
        {**item, "name": item["name_zh"] if zh else item["name_en"]} for item in result["lists"]
    ]
    measures = []
    for m in result["measures"]:
        measures.append(
            {
                **m,
                "text": m["text_zh"] if zh else m["text_en"],
                "department_name": departments.get(m["department"], m["department"])
                if m["department"]
                else _("Every department deciding the matter"),
                "triggered_names": [_list_name(code, zh) for code in m.get("triggered_by", [])],
            }
        )
    name = ""
    if result["registered"]:
        subject = Subject.objects.filter(code=result["subject"]).only("name", "kind").first()
        if subject is not None:
            name = mask_person_name(subject.name) if subject.is_person else subject.name
    return {
        **result,
        "subject_name": name,
        "scenario_name": scenario.name(zh) if scenario else result["scenario"],
        "department_name": departments.get(result["department"], result["department"]),
        "lists": lists,
        "punishments": [m for m in measures if m["kind"] == "punishment"],
        "rewards": [m for m in measures if m["kind"] == "reward"],
    }


def _list_name(code: str, zh: bool) -> str:
    d = lists_catalogue.lists().get(code)
    return (d.name_zh if zh else d.name_en) if d else code


class StatsForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _stats_context(request: HttpRequest) -> dict[str, Any]:
    today = timezone.localdate()
    data = request.GET if request.GET else None
    form = StatsForm(data, initial={"date_from": today - dt.timedelta(days=29), "date_to": today})
    if form.is_bound and form.is_valid():
        date_from, date_to = form.cleaned_data["date_from"], form.cleaned_data["date_to"]
    else:
        date_from, date_to = today - dt.timedelta(days=29), today
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    stats = selectors.check_stats(actor=request.user, date_from=date_from, date_to=date_to)
    zh = _zh()
    for key in ("by_department", "by_scenario", "by_list"):
        for row in stats[key]:
            row["name"] = row["name_zh"] if zh else row["name_en"]
    for row in stats["by_measure"]:
        row["text"] = row["text_zh"] if zh else row["text_en"]
    return {"stats": stats, "stats_form": form, "date_from": date_from, "date_to": date_to}


def _recent(request: HttpRequest) -> list[dict[str, Any]]:
    zh = _zh()
    cat = catalogue()
    rows = []
    for c in selectors.recent_checks(actor=request.user, limit=20):
        scenario = cat.scenarios.get(c.scenario)
        rows.append(
            {
                "check": c,
                "scenario_name": scenario.name(zh) if scenario else c.scenario,
                "by": c.api_client.name
                if c.api_client_id and c.api_client
                else (c.user.get_username() if c.user_id and c.user else c.get_source_display()),
                "lists": [_list_name(code, zh) for code in c.lists],
            }
        )
    return rows


def _page_context(request: HttpRequest) -> dict[str, Any]:
    return {
        "recent": _recent(request),
        "measure_count": len(catalogue().ids()),
        **_stats_context(request),
    }


@login_required
def index(request: HttpRequest) -> HttpResponse:
    _require_staff(request.user)
    can_check = has_scope(request.user, "discipline.check")
    context: dict[str, Any] = {
        "form": CheckForm(user=request.user) if can_check else None,
        "can_feedback": has_scope(request.user, "discipline.feedback"),
        **_page_context(request),
    }
    return render(request, "discipline/index.html", context)


@login_required
@require_POST
def check(request: HttpRequest) -> HttpResponse:
    _require_check(request.user)
    form = CheckForm(request.POST, user=request.user)
    result = None
    if form.is_valid():
        try:
            checker = services.checker_for(
                request.user, form.cleaned_data["department"], source=Check.Source.WEB
            )
            result = _present(
                services.check_run(
                    checker=checker,
                    code=form.cleaned_data["subject"],
                    scenario=form.cleaned_data["scenario"],
                    on=form.cleaned_data["date"],
                )
            )
        except ApplicationError as exc:
            form.add_service_error(exc)
    context = {
        "form": form,
        "result": result,
        "can_feedback": has_scope(request.user, "discipline.feedback"),
    }
    if request.htmx:
        return render(request, "discipline/_check.html", context, status=200)
    return render(
        request,
        "discipline/index.html",
        {**context, **_page_context(request)},
        status=200 if result else 400,
    )


@login_required
@require_POST
def feedback(request: HttpRequest, check_id: int) -> HttpResponse:
    if not has_scope(request.user, "discipline.feedback"):
        raise DjangoPermissionDenied(_("You may not record feedback."))
    measure_id = request.POST.get("measure_id", "")
    applied = request.POST.get("applied") == "1"
    reason = request.POST.get("reason", "")
    error = None
    saved = None
    try:
        saved, _created = services.feedback_record(
            actor=request.user,
            check_id=check_id,
            measure_id=measure_id,
            applied=applied,
            reason=reason,
        )
    except ApplicationError as exc:
        if exc.code == "reason_required":
            error = _("Say why the measure was not applied.")
        elif exc.code == "not_your_check":
            error = _("Only the department that made the check records what it did.")
        else:
            error = exc.message
    context = {"check_id": check_id, "measure_id": measure_id, "saved": saved, "error": error}
    return render(request, "discipline/_feedback.html", context, status=200 if saved else 400)


@login_required
def measures(request: HttpRequest) -> HttpResponse:
    _require_staff(request.user)
    zh = _zh()
    cat = catalogue()
    today = timezone.localdate()
    departments = {d.code: d.name for d in Department.objects.all()}
    rows = []
    for m in sorted(cat.measures, key=lambda m: (m.kind != "punishment", m.line)):
        rows.append(
            {
                "measure": m,
                "text": m.text(zh),
                "in_force": m.in_force(today),
                "department_name": departments.get(m.department, m.department)
                if m.department
                else _("Every department deciding the matter"),
                "scenario_names": [
                    cat.scenarios[s].name(zh) for s in m.scenarios if s in cat.scenarios
                ],
                "list_names": [_list_name(code, zh) for code in sorted(m.lists)],
            }
        )
    return render(request, "discipline/measures.html", {"rows": rows, "today": today})
