"""Views of the UI shell: sign-in, the staff dashboard, jobs and the change log.

Thin: they parse, authorise through the selectors (which apply ``restrict``), and render.
"""

from __future__ import annotations

import json

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from . import ui_selectors
from .dashboard import panels_for
from .errors import NotFound, PermissionDenied
from .forms import ChangeFilterForm, JobFilterForm, LoginForm

PAGE_SIZE = 50


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Without a ?next=, each role lands on its top page (core.dashboard.register_landing).
        from .dashboard import landing_url

        return landing_url(self.request.user)


class LogoutView(auth_views.LogoutView):
    template_name = "core/logged_out.html"


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "job_counts": ui_selectors.job_counts(user=user),
        "recent_jobs": ui_selectors.job_list(user=user)[:8],
        "panels": panels_for(request),
        "recent_changes": (ui_selectors.change_list(user=user)[:10] if user.is_citywide else None),
    }
    return render(request, "core/dashboard.html", context)


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    form = JobFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    page = Paginator(ui_selectors.job_list(user=request.user, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "core/jobs.html", {"form": form, "page": page, "query": _query(request)})


@login_required
def job_detail(request: HttpRequest, job_id) -> HttpResponse:
    try:
        job = ui_selectors.job_get(user=request.user, job_id=job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    context = {"job": job, "params_json": json.dumps(job.params, ensure_ascii=False, indent=2)}
    if request.htmx:
        response = render(request, "core/_job_progress.html", context)
        if job.is_finished:
            # Pages that include the progress partial can listen for this to refresh.
            response["HX-Trigger"] = json.dumps(
                {"jobFinished": {"id": str(job.pk), "status": job.status}}
            )
        return response
    return render(request, "core/job.html", context)


@login_required
def change_list(request: HttpRequest) -> HttpResponse:
    if not request.user.is_citywide:
        raise DjangoPermissionDenied
    form = ChangeFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    changes = ui_selectors.change_list(
        user=request.user,
        app_label=filters.get("app_label", ""),
        model_name=filters.get("model", ""),
        action=filters.get("action", ""),
    )
    page = Paginator(changes, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "core/changes.html", {"form": form, "page": page, "query": _query(request)}
    )


@login_required
def object_changes(
    request: HttpRequest, app_label: str, model_name: str, object_id: str
) -> HttpResponse:
    try:
        model = ui_selectors.changelog_model(app_label=app_label, model_name=model_name)
        changes = ui_selectors.object_changes(user=request.user, model=model, object_id=object_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc
    obj = (
        model._default_manager.filter(pk=object_id).first() if _valid_pk(model, object_id) else None
    )
    page = Paginator(changes, PAGE_SIZE).get_page(request.GET.get("page"))
    latest = page.object_list[0] if page.object_list else None
    return render(
        request,
        "core/object_changes.html",
        {
            "model": model,
            "verbose_name": model._meta.verbose_name,
            "object": obj,
            "object_repr": str(obj)
            if obj is not None
            else (latest.object_repr if latest else object_id),
            "object_id": object_id,
            "page": page,
            "changes": page.object_list,
        },
    )


def _query(request: HttpRequest) -> str:
    """The request's filters without the page number, for pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _valid_pk(model, object_id: str) -> bool:
    try:
        model._meta.pk.to_python(object_id)
    except Exception:
        return False
    return True
