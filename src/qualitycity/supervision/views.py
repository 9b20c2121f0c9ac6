"""Web pages of the supervision app: plans and draws, tasks and results, spot checks,
incident reports and their triage; for enterprise users, commitments and incident reports.

Thin: parse (``forms``), authorise (scopes; departments are checked by ``services``), call
``services`` / ``selectors``, render. A refused act comes back as an error on the page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualitycity.core.errors import ApplicationError, NotFound
from qualitycity.core.models import Department, Role
from qualitycity.core.permissions import has_scope
from qualitycity.subjects.selectors import subject_get

from . import forms, selectors, services
from .models import IncidentReport, Sample

PAGE_SIZE = 100


def _require(user: Any, scope: str) -> None:
    if not has_scope(user, scope):
        raise DjangoPermissionDenied(scope)


def _is_enterprise(user: Any) -> bool:
    return getattr(user, "role", None) == Role.ENTERPRISE


def _error(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, f"{exc.message} ({exc.code})")


@login_required
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    if _is_enterprise(user):
        return redirect("supervision:commitments")
    _require(user, "supervision.read")
    return render(
        request,
        "supervision/index.html",
        {
            "plans": [selectors.plan_dict(p) for p in selectors.plans(actor=user)[:200]],
            "can_plan": has_scope(user, "supervision.plan"),
            "my_tasks": list(selectors.my_tasks(actor=user)[:100]),
            "overdue": selectors.overdue_results(actor=user).count(),
            "open_incidents": selectors.incidents(actor=user)
            .filter(status=IncidentReport.Status.REPORTED)
            .count(),
        },
    )


@login_required
def plan_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, "supervision.plan")
    cfg = services.settings_config()
    if request.method == "POST":
        form = forms.PlanForm(request.POST)
        if form.is_valid():
            try:
                plan = services.plan_create(actor=user, **form.service_kwargs())
            except ApplicationError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                messages.success(request, _("Plan created. Draw it to assign the inspections."))
                return redirect("supervision:plan", pk=plan.pk)
    else:
        initial = {f"ratio_{c}": cfg["sampling_ratios"][c] for c in "ABCD"}
        initial["min_inspectors"] = cfg["min_inspectors"]
        own = services.actor_department(user)
        if own is not None:
            initial["departments"] = [own.code]
        form = forms.PlanForm(initial=initial)
    return render(request, "supervision/plan_new.html", {"form": form, "defaults": cfg})


@login_required
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, "supervision.read")
    try:
        plan = selectors.plan_get(actor=user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    data = selectors.plan_dict(plan, draws=True)
    page = Paginator(selectors.tasks(plan=plan), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "supervision/plan.html",
        {
            "plan": plan,
            "data": data,
            "page": page,
            "tasks": [selectors.task_dict(t) for t in page],
            "can_plan": has_scope(user, "supervision.plan"),
            "can_result": has_scope(user, "supervision.result"),
            "verification": request.session.pop(f"verify-{plan.pk}", None),
        },
    )


@login_required
@require_POST
def plan_draw(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, "supervision.plan")
    try:
        plan = selectors.plan_get(actor=user, pk=pk)
        attempt = services.plan_draw(plan=plan, actor=user, reason=request.POST.get("reason", ""))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        _error(request, exc)
    else:
        messages.success(
            request,
            _("Drawn: %(tasks)s tasks, %(unstaffed)s cannot be staffed.")
            % {"tasks": attempt.task_count, "unstaffed": len(attempt.unstaffed)},
        )
    return redirect("supervision:plan", pk=pk)


@login_required
@require_POST
def plan_verify(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, "supervision.read")
    try:
        plan = selectors.plan_get(actor=user, pk=pk)
        v = services.draw_verify(attempt=selectors.draw_get(plan=plan))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    request.session[f"verify-{pk}"] = {"ok": v.ok, "problems": v.problems[:10]}
    return redirect("supervision:plan", pk=pk)


@login_required
def task_detail(request: HttpRequest, pk: int, number: int) -> HttpResponse:
    user = request.user
    _require(user, "supervision.read")
    try:
        plan = selectors.plan_get(actor=user, pk=pk)
        task = selectors.task_get(actor=user, plan=plan, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = forms.ResultForm(request.POST or None, citywide=user.is_citywide)
    if request.method == "POST":
        _require(user, "supervision.result")
        if form.is_valid():
            cd = form.cleaned_data
            try:
                services.result_enter(
                    task=task,
                    actor=user,
                    outcome=cd["outcome"],
                    inspected_on=cd["inspected_on"],
                    findings=cd["findings"],
                    department=cd.get("department"),
                    publish=cd["publish"],
                    unreported_incident=cd["unreported_incident"],
                )
            except ApplicationError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                messages.success(request, _("Result entered."))
                return redirect("supervision:task", pk=pk, number=number)
    return render(
        request,
        "supervision/task.html",
        {
            "plan": plan,
            "task": selectors.task_dict(task),
            "items": list(plan.items.select_related("department")),
            "form": form,
            "can_result": has_scope(user, "supervision.result"),
        },
    )


@login_required
def spot_checks(request: HttpRequest) -> HttpResponse:
    user = request.user
    _require(user, "supervision.read")
    form = forms.SpotPlanForm(request.POST or None)
    if request.method == "POST":
        _require(user, "supervision.plan")
        if form.is_valid():
            try:
                p = services.spotcheck_plan_create(actor=user, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                return redirect("supervision:spot_check", pk=p.pk)
    return render(
        request,
        "supervision/spot_checks.html",
        {
            "plans": selectors.spot_plans(actor=user),
            "form": form,
            "can_plan": has_scope(user, "supervision.plan"),
        },
    )


@login_required
def spot_check(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require(user, "supervision.read")
    plan = selectors.spot_plans(actor=user).filter(pk=pk).first()
    if plan is None:
        raise Http404
    sample_form = forms.SampleForm(prefix="s")
    result_form = forms.SampleResultForm(prefix="r")
    if request.method == "POST":
        _require(user, "supervision.result")
        try:
            if "take" in request.POST:
                sample_form = forms.SampleForm(request.POST, prefix="s")
                if sample_form.is_valid():
                    cd = sample_form.cleaned_data
                    services.sample_take(
                        actor=user,
                        plan=plan,
                        subject=subject_get(code=cd["subject"]),
                        product=cd["product"],
                        batch=cd["batch"],
                        sampled_on=cd["sampled_on"],
                    )
                    return redirect("supervision:spot_check", pk=pk)
            elif "result" in request.POST:
                result_form = forms.SampleResultForm(request.POST, prefix="r")
                if result_form.is_valid():
                    cd = result_form.cleaned_data
                    sample = plan.samples.get(pk=cd["sample"])
                    services.sample_result(
                        actor=user,
                        sample=sample,
                        result=cd["result"],
                        result_date=cd["result_date"],
                        failed_items=cd["failed_items"],
                        standard=cd["standard"],
                    )
                    return redirect("supervision:spot_check", pk=pk)
            elif "recheck" in request.POST:
                sample = plan.samples.get(pk=int(request.POST["recheck"]))
                services.recheck_take(actor=user, sample=sample)
                return redirect("supervision:spot_check", pk=pk)
        except (ApplicationError, Sample.DoesNotExist, ValueError) as exc:
            if isinstance(exc, ApplicationError):
                _error(request, exc)
            else:
                messages.error(request, _("No such sample in this plan."))
    return render(
        request,
        "supervision/spot_check.html",
        {
            "plan": plan,
            "samples": selectors.samples(plan=plan),
            "sample_form": sample_form,
            "result_form": result_form,
            "can_result": has_scope(user, "supervision.result"),
        },
    )


@login_required
def incidents(request: HttpRequest) -> HttpResponse:
    user = request.user
    enterprise = _is_enterprise(user)
    if enterprise:
        _require(user, "supervision.report")
    else:
        _require(user, "supervision.read")
    form = forms.IncidentForm(request.POST or None) if enterprise else None
    if enterprise and request.method == "POST" and form.is_valid():
        cd = form.cleaned_data
        try:
            r = services.incident_report(actor=user, **cd)
        except ApplicationError as exc:
            form.add_error(None, f"{exc.message} ({exc.code})")
        else:
            if r.late:
                messages.warning(request, _("Reported after the reporting deadline: flagged late."))
            else:
                messages.success(request, _("Incident reported."))
            return redirect("supervision:incidents")
    return render(
        request,
        "supervision/incidents.html",
        {
            "reports": selectors.incidents(actor=user)[:300],
            "form": form,
            "enterprise": enterprise,
            "hours": services.settings_config()["incident_report_hours"],
        },
    )


@login_required
def incident(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    if not (has_scope(user, "supervision.read") or has_scope(user, "supervision.report")):
        raise DjangoPermissionDenied
    try:
        report = selectors.incident_get(actor=user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    form = None
    if has_scope(user, "supervision.result"):
        form = forms.TriageForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.incident_triage(actor=user, report=report, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, f"{exc.message} ({exc.code})")
            else:
                messages.success(request, _("Triage recorded."))
                return redirect("supervision:incident", pk=pk)
    return render(
        request,
        "supervision/incident.html",
        {"r": report, "events": report.events.select_related("actor"), "form": form},
    )


@login_required
def commitments(request: HttpRequest) -> HttpResponse:
    user = request.user
    enterprise = _is_enterprise(user)
    if enterprise:
        _require(user, "supervision.report")
    else:
        _require(user, "supervision.read")
    templates = list(services.commitment_templates().values())
    if request.method == "POST" and enterprise:
        try:
            services.commitment_sign(actor=user, template=request.POST.get("template", ""))
        except ApplicationError as exc:
            _error(request, exc)
        else:
            messages.success(request, _("Commitment signed. It is now part of your credit file."))
        return redirect("supervision:commitments")
    return render(
        request,
        "supervision/commitments.html",
        {
            "templates": templates,
            "commitments": [
                (c, services.commitment_templates().get(c.template))
                for c in selectors.commitments(actor=user)[:300]
            ],
            "enterprise": enterprise,
            "departments": {d.code: d.name for d in Department.objects.all()},
        },
    )


@login_required
def inspectors(request: HttpRequest) -> HttpResponse:
    """The inspector pool of the actor's departments, adding inspectors, declared conflicts."""
    from .models import Inspector

    user = request.user
    _require(user, "supervision.read")
    can_plan = has_scope(user, "supervision.plan")
    add_form = forms.InspectorForm(prefix="i")
    conflict_form = forms.ConflictForm(prefix="c")
    if request.method == "POST":
        _require(user, "supervision.plan")
        try:
            if "add" in request.POST:
                add_form = forms.InspectorForm(request.POST, prefix="i")
                if add_form.is_valid():
                    cd = add_form.cleaned_data
                    services.inspector_create(
                        actor=user,
                        badge_no=cd["badge_no"],
                        name=cd["name"],
                        department=Department.objects.get(code=cd["department"]),
                        qualifications=cd["qualifications"],
                        district=cd["district"],
                    )
                    messages.success(request, _("Inspector added."))
                    return redirect("supervision:inspectors")
            elif "conflict" in request.POST:
                conflict_form = forms.ConflictForm(request.POST, prefix="c")
                if conflict_form.is_valid():
                    cd = conflict_form.cleaned_data
                    inspector = selectors.inspectors(actor=user).filter(badge_no=cd["badge_no"])
                    if not inspector.exists():
                        raise NotFound("No such inspector.", code="unknown_inspector")
                    services.conflict_declare(
                        actor=user,
                        inspector=inspector.get(),
                        subject=subject_get(code=cd["subject"]),
                        reason=cd["reason"],
                    )
                    messages.success(request, _("Conflict of interest declared."))
                    return redirect("supervision:inspectors")
        except ApplicationError as exc:
            _error(request, exc)
    qs = selectors.inspectors(actor=user).prefetch_related("conflicts__subject")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "supervision/inspectors.html",
        {
            "page": page,
            "total": Inspector.objects.restrict(user, "view").count(),
            "can_plan": can_plan,
            "add_form": add_form,
            "conflict_form": conflict_form,
        },
    )
