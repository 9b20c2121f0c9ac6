"""Staff pages of the plan: the plan dashboard (the quality office's top page), targets with
their drill-down, tasks and reports, review, registries, assessment, notices, release.

Thin: parse, call a service or selector (which check permissions and scope), render.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from qualitycity.core.errors import ApplicationError, NotFound
from qualitycity.core.models import Department
from qualitycity.core.permissions import has_scope

from . import selectors, services
from .charts import trend_svg
from .models import Measure, ProgressReport, SupervisionNotice, Target
from .registries import KINDS

PAGE_SIZE = 50


def _staff(request: HttpRequest, scope: str = "plan.read") -> None:
    if not has_scope(request.user, scope):
        raise DjangoPermissionDenied


def _day(text: str | None) -> dt.date:
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    return timezone.localdate()


def _plan(request: HttpRequest):
    try:
        return selectors.plan_get(request.GET.get("plan"))
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _error(request: HttpRequest, exc: ApplicationError) -> None:
    messages.error(request, f"{exc.message} ({exc.code})")


def _with_charts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for r in rows:
        r["svg"] = trend_svg(r)
        pct = r["progress_percent"]
        r["bar"] = None if pct is None else max(0.0, min(100.0, pct))
    return rows


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The plan dashboard: every target with progress and trend, tasks by status and
    department, overdue reports, notices."""
    _staff(request)
    plan = _plan(request)
    as_of = _day(request.GET.get("on"))
    user = request.user
    context = {
        "plan": plan,
        "as_of": as_of,
        "targets": _with_charts(selectors.targets_overview(plan, as_of)),
        "matrix": selectors.tasks_by_status_and_department(plan),
        "overdue": selectors.overdue_reports(user=user, plan=plan)[:20],
        "overdue_count": selectors.overdue_reports(user=user, plan=plan).count(),
        "waiting": selectors.report_list(user=user, plan=plan, status="submitted").count(),
        "notices": selectors.notice_list(user=user, plan=plan, status="open")[:10],
        "unconfirmed": plan.measures.filter(departments_confirmed=False).count(),
        "can_review": user.is_citywide and has_scope(user, "plan.review"),
        "release": plan.releases.first(),
        "assessments": plan.assessments.all(),
        "year": as_of.year if as_of.year <= plan.ends_on.year else plan.ends_on.year,
    }
    return render(request, "plan/index.html", context)


@login_required
def target_detail(request: HttpRequest, code: str) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    try:
        target = selectors.target_get(plan, code)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    as_of = _day(request.GET.get("on"))
    status = selectors.target_status(target, as_of)
    items = None
    if target.obtained == Target.Obtained.COMPUTED:
        items = Paginator(
            selectors.metric_items(target, as_of).prefetch_related("subjects"), PAGE_SIZE
        ).get_page(request.GET.get("page"))
    context = {
        "plan": plan,
        "target": target,
        "st": status,
        "svg": trend_svg(status, width=640, height=200),
        "items": items,
        "item_rows": [selectors.item_dict(i) for i in items] if items else [],
        "as_of": as_of,
    }
    return render(request, "plan/target.html", context)


@login_required
def tasks(request: HttpRequest) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    department = request.GET.get("department") or ""
    status = request.GET.get("status") or ""
    rows = selectors.measure_list(
        user=request.user, plan=plan, department=department or None, status=status or None
    )
    context = {
        "plan": plan,
        "measures": rows,
        "departments": Department.objects.all(),
        "statuses": Measure.Status.choices,
        "department": department,
        "status": status,
    }
    return render(request, "plan/tasks.html", context)


@login_required
def measure_detail(request: HttpRequest, number: str) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    try:
        m = selectors.measure_get(user=request.user, plan=plan, number=number)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    user = request.user
    can_report = has_scope(user, "plan.report") and (
        user.is_citywide or Measure.objects.restrict(user, "report").filter(pk=m.pk).exists()
    )
    context = {
        "plan": plan,
        "m": m,
        "reports": selectors.report_list(user=user, plan=plan, measure=m.number),
        "can_confirm": user.is_citywide and has_scope(user, "plan.review"),
        "can_report": can_report,
        "departments": Department.objects.all(),
        "cooperating": set(m.cooperating_departments.values_list("pk", flat=True)),
        "targets": m.targets.all(),
    }
    return render(request, "plan/measure.html", context)


@login_required
@require_POST
def measure_confirm(request: HttpRequest, number: str) -> HttpResponse:
    plan = _plan(request)
    try:
        m = selectors.measure_get(user=request.user, plan=plan, number=number)
        lead = Department.objects.filter(pk=request.POST.get("lead")).first()
        coop = Department.objects.filter(pk__in=request.POST.getlist("cooperating"))
        services.measure_confirm_departments(
            measure=m, actor=request.user, lead=lead, cooperating=list(coop)
        )
        messages.success(request, _("The responsible departments are confirmed."))
    except ApplicationError as exc:
        _error(request, exc)
    return redirect("plan:measure", number=number)


@login_required
def report_new(request: HttpRequest, number: str) -> HttpResponse:
    """File a report (or refile a returned one) on a measure for a quarter."""
    _staff(request, "plan.report")
    plan = _plan(request)
    try:
        m = selectors.measure_get(user=request.user, plan=plan, number=number, action="report")
    except NotFound as exc:
        raise Http404(exc.message) from exc
    user = request.user
    dept = user.department if not user.is_citywide else m.lead_department
    reportable = selectors.reportable_targets(plan=plan, department=dept)
    today = timezone.localdate()
    periods = services.plan_periods(plan, until=today)[::-1]
    form = {"period": request.GET.get("period") or (periods[0] if periods else "")}
    if request.method == "POST":
        form = request.POST
        values = {
            t.code: request.POST.get(f"value_{t.code}")
            for t in reportable
            if (request.POST.get(f"value_{t.code}") or "").strip()
        }
        files = request.FILES.getlist("evidence")
        try:
            with tempfile.TemporaryDirectory() as tmp:
                paths = []
                for f in files:
                    p = Path(tmp) / f"{len(paths)}-{Path(f.name).name}"
                    with open(p, "wb") as out:
                        for chunk in f.chunks():
                            out.write(chunk)
                    paths.append((f.name, p))
                report = services.report_submit(
                    actor=user,
                    measure=m,
                    period=request.POST.get("period", ""),
                    task_status=request.POST.get("task_status", ""),
                    narrative=request.POST.get("narrative", ""),
                    values=values,
                    evidence=paths,
                    department=None if not user.is_citywide else m.lead_department,
                )
            messages.success(request, _("The report is submitted for review."))
            return redirect("plan:report", pk=report.pk)
        except ApplicationError as exc:
            _error(request, exc)
    context = {
        "plan": plan,
        "m": m,
        "periods": periods,
        "statuses": Measure.Status.choices,
        "targets": reportable,
        "form": form,
    }
    return render(request, "plan/report_form.html", context)


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    status = request.GET.get("status") or ""
    department = request.GET.get("department") or ""
    qs = selectors.report_list(
        user=request.user, plan=plan, status=status or None, department=department or None
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "plan": plan,
        "page": page,
        "statuses": ProgressReport.Status.choices,
        "status": status,
        "department": department,
        "departments": Department.objects.all(),
    }
    return render(request, "plan/reports.html", context)


@login_required
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    try:
        r = selectors.report_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    user = request.user
    context = {
        "r": r,
        "events": r.events.select_related("actor"),
        "can_review": user.is_citywide
        and has_scope(user, "plan.review")
        and r.status == "submitted",
        "can_refile": r.status in ("returned", "overdue") and has_scope(user, "plan.report"),
    }
    return render(request, "plan/report.html", context)


@login_required
def report_evidence(request: HttpRequest, pk: int, index: int) -> FileResponse:
    """One kept evidence file of a report the user may see."""
    from django.conf import settings

    _staff(request)
    try:
        r = selectors.report_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if not 0 <= index < len(r.evidence):
        raise Http404
    item = r.evidence[index]
    path = Path(settings.FILES_ROOT) / item["path"]
    if not path.is_file():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=item["name"])  # noqa: SIM115


@login_required
@require_POST
def report_review(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        r = selectors.report_get(user=request.user, pk=pk)
        if request.POST.get("decision") == "accept":
            services.report_accept(
                report=r, actor=request.user, comment=request.POST.get("comment", "")
            )
            messages.success(request, _("The report is accepted."))
        else:
            services.report_return(
                report=r, actor=request.user, comment=request.POST.get("comment", "")
            )
            messages.success(request, _("The report is returned to the department."))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        _error(request, exc)
    return redirect("plan:report", pk=pk)


@login_required
@require_POST
def act(request: HttpRequest, action: str) -> HttpResponse:
    """The office's plan-wide acts: flag overdue reports, issue notices, release progress,
    produce the assessment."""
    plan = _plan(request)
    user = request.user
    try:
        if action == "overdue":
            _staff(request, "plan.review")
            if not user.is_citywide:
                raise DjangoPermissionDenied
            n = services.reports_flag_overdue(plan=plan)["flagged"]
            messages.success(request, _("%(n)d report(s) flagged as not filed in time.") % {"n": n})
        elif action == "notices":
            n = services.notices_generate(plan=plan, actor=user)["issued"]
            messages.success(request, _("%(n)d supervision notice(s) issued.") % {"n": n})
            return redirect("plan:notices")
        elif action == "release":
            services.plan_release(plan=plan, actor=user, note=request.POST.get("note", ""))
            messages.success(request, _("Progress is released to the public portal."))
        elif action == "assess":
            year = int(request.POST.get("year") or timezone.localdate().year)
            services.assessment_produce(plan=plan, year=year, actor=user)
            return redirect("plan:assessment", year=year)
        else:
            raise Http404
    except (ValueError, TypeError):
        messages.error(request, _("Not a year."))
    except ApplicationError as exc:
        _error(request, exc)
    return redirect("plan:index")


@login_required
def assessment(request: HttpRequest, year: int) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    try:
        a = selectors.assessment_get(plan, year)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    context = {
        "plan": plan,
        "a": a,
        "table": selectors.assessment_table(a),
        "districts": selectors.assessment_table(a, "district"),
    }
    return render(request, "plan/assessment.html", context)


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    status = request.GET.get("status") or ""
    page = Paginator(
        selectors.notice_list(user=request.user, plan=plan, status=status or None), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context = {
        "plan": plan,
        "page": page,
        "statuses": SupervisionNotice.Status.choices,
        "status": status,
        "can_issue": request.user.is_citywide and has_scope(request.user, "plan.review"),
    }
    return render(request, "plan/notices.html", context)


@login_required
@require_POST
def notice_act(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request)
    notice = selectors.notice_list(user=request.user, plan=plan).filter(pk=pk).first()
    if notice is None:
        raise Http404
    try:
        if request.POST.get("action") == "close":
            services.notice_close(notice=notice, actor=request.user)
        else:
            services.notice_respond(
                notice=notice, actor=request.user, response=request.POST.get("response", "")
            )
    except ApplicationError as exc:
        _error(request, exc)
    return redirect("plan:notices")


def _registry_page(request: HttpRequest, group: str) -> HttpResponse:
    _staff(request)
    kinds = [k for k in KINDS.values() if k.group == group]
    kind = request.GET.get("kind") or kinds[0].code
    if kind not in KINDS or KINDS[kind].group != group:
        raise Http404
    q = request.GET.get("q", "")
    sub = request.GET.get("sub", "")
    qs = selectors.registry_items(kind, q=q, sub_kind=sub)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    model = KINDS[kind].model
    columns = [c.name for c in KINDS[kind].columns if c.type != "subjects"]
    sub_choices = model.Kind.choices if hasattr(model, "Kind") and kind != "standards" else []
    context = {
        "group": group,
        "kinds": kinds,
        "kind": KINDS[kind],
        "counts": selectors.registry_counts(group),
        "page": page,
        "rows": [
            {"cells": [d.get(c) for c in columns], "organisations": d["organisations"]}
            for d in (selectors.item_dict(i) for i in page)
        ],
        "columns": columns,
        "q": q,
        "sub": sub,
        "sub_choices": sub_choices,
        "files": selectors.registry_files(kind)[:10],
        "can_load": has_scope(request.user, "plan.registry"),
    }
    return render(request, "plan/registry.html", context)


@login_required
def standards(request: HttpRequest) -> HttpResponse:
    return _registry_page(request, "standards")


@login_required
def brands(request: HttpRequest) -> HttpResponse:
    return _registry_page(request, "brands")


@login_required
@require_POST
def registry_upload(request: HttpRequest) -> HttpResponse:
    _staff(request, "plan.registry")
    kind = request.POST.get("kind", "")
    upload = request.FILES.get("file")
    group = KINDS[kind].group if kind in KINDS else "standards"
    if upload is None:
        messages.error(request, _("Choose a file."))
        return redirect(f"plan:{group}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            with open(path, "wb") as out:
                for chunk in upload.chunks():
                    out.write(chunk)
            result = services.registry_load(
                kind=kind, path=path, name=upload.name, actor=request.user
            )
    except ApplicationError as exc:
        _error(request, exc)
        return redirect(f"plan:{group}")
    return redirect("plan:registry_file", pk=result["id"])


@login_required
def registry_file(request: HttpRequest, pk: int) -> HttpResponse:
    _staff(request)
    rf = selectors.registry_files().filter(pk=pk).first()
    if rf is None:
        raise Http404
    result = selectors.registry_file_dict(rf)
    return render(
        request, "plan/registry_file.html", {"rf": rf, "result": result, "kind": KINDS[rf.kind]}
    )


@login_required
def export(request: HttpRequest) -> HttpResponse:
    _staff(request)
    plan = _plan(request)
    fmt = "json" if request.GET.get("format") == "json" else "yaml"
    text = services.plan_export(plan=plan, fmt=fmt)
    response = HttpResponse(
        text,
        content_type="application/json" if fmt == "json" else "application/yaml; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{plan.code}.{fmt}"'
    return response
