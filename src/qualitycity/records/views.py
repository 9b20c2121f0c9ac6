"""Web pages of the records app: credit files, submissions, upload and its job, quarantine,
timeliness. Thin: parse, authorise (through selectors that ``restrict``), call services, render.
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from qualitycity.core.errors import ApplicationError, NotFound, PermissionDenied
from qualitycity.core.models import Department, Job
from qualitycity.core.permissions import has_scope
from qualitycity.core.sections import file_sections_for

from . import selectors
from .models import QuarantinedRow, SourceFile

PAGE_SIZE = 50
# A credit file lists the newest records of each category; "show all" lists every one.
CREDIT_FILE_PER_CATEGORY = 100


def _query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _not_found(exc: ApplicationError) -> Http404:
    return Http404(exc.message)


def _get_or_404(selector: Any, **kwargs: Any) -> Any:
    """Call a ``*_get`` selector; what the user may not see is a 404, as if it did not exist."""
    try:
        return selector(**kwargs)
    except NotFound as exc:
        raise _not_found(exc) from exc


def _require_ingest(user: Any) -> None:
    if not has_scope(user, "records.ingest"):
        raise DjangoPermissionDenied(_("You may not submit or correct credit records."))


# --------------------------------------------------------------------------------------------
# Credit files
# --------------------------------------------------------------------------------------------


@login_required
def credit_file_lookup(request: HttpRequest) -> HttpResponse:
    """A code typed in a form → its credit file."""
    code = (request.GET.get("code") or "").strip()
    if code:
        return redirect("records:credit_file", code=code)
    return render(request, "records/credit_file_lookup.html", {})


@login_required
def credit_file(request: HttpRequest, code: str) -> HttpResponse:
    try:
        subject = selectors.subject_for_code(code=code)
    except ApplicationError as exc:
        status = exc.status if exc.status in (400, 404) else 400
        return render(
            request,
            "records/credit_file_error.html",
            {"code": code, "error": exc},
            status=status,
        )
    show_all = request.GET.get("all") == "1"
    cf = selectors.credit_file(
        subject=subject,
        actor=request.user,
        purpose="web:credit_file",
        per_category=None if show_all else CREDIT_FILE_PER_CATEGORY,
    )
    changes = selectors.subject_changes(subject=subject, actor=request.user)
    return render(
        request,
        "records/credit_file.html",
        {
            "file": cf,
            "subject": subject,
            "changes": changes[:20] if changes is not None else None,
            # What later apps add (the credit class and why), each for the users it is meant for.
            "sections": file_sections_for(request, subject=subject, file=cf),
        },
    )


# --------------------------------------------------------------------------------------------
# Submissions
# --------------------------------------------------------------------------------------------


class SubmissionFilterForm(forms.Form):
    dataset = forms.ChoiceField(label=gettext_lazy("Dataset"), required=False)
    department = forms.ChoiceField(label=gettext_lazy("Department"), required=False)
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("", "—"), *SourceFile.Status.choices],
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["dataset"].choices = [("", "—")] + [
            (code, selectors.dataset_name(code)) for code in selectors.datasets()
        ]
        if user.is_citywide:
            self.fields["department"].choices = [("", "—")] + [
                (d.code, d.name) for d in Department.objects.order_by("sort", "code")
            ]
        else:
            del self.fields["department"]


@login_required
def submissions(request: HttpRequest) -> HttpResponse:
    form = SubmissionFilterForm(request.GET or None, user=request.user)
    filters = form.cleaned_data if form.is_valid() else {}
    qs = selectors.source_file_list(
        actor=request.user,
        dataset=filters.get("dataset") or None,
        department=filters.get("department") or None,
        status=filters.get("status") or None,
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "records/submissions.html",
        {
            "form": form,
            "page": page,
            "query": _query(request),
            "can_upload": has_scope(request.user, "records.ingest"),
        },
    )


@login_required
def submission(request: HttpRequest, pk: int) -> HttpResponse:
    sf = _get_or_404(selectors.source_file_get, actor=request.user, pk=pk)
    rows = selectors.quarantine_list(actor=request.user, status=None, source_file=sf)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    changes = selectors.source_file_changes(source_file=sf, actor=request.user)
    return render(
        request,
        "records/submission.html",
        {
            "sf": sf,
            "dataset_name": selectors.dataset_name(sf.dataset),
            "reasons": selectors.source_file_reasons(sf),
            "page": page,
            "query": _query(request),
            "changes": changes[:50] if changes is not None else None,
            "can_correct": has_scope(request.user, "records.ingest"),
        },
    )


@login_required
def error_report(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The per-row error report of a submission (CSV, UTF-8 with BOM)."""
    sf = _get_or_404(selectors.source_file_get, actor=request.user, pk=pk)
    from . import services

    response = StreamingHttpResponse(
        services.quarantine_report_csv(sf), content_type="text/csv; charset=utf-8"
    )
    stem = Path(sf.original_name).stem or f"submission-{sf.pk}"
    response["Content-Disposition"] = content_disposition_header(True, f"{stem}-errors-{sf.pk}.csv")
    return response


# --------------------------------------------------------------------------------------------
# Upload and its job
# --------------------------------------------------------------------------------------------

UPLOAD_SUFFIXES = (".csv", ".txt", ".xlsx", ".jsonl", ".ndjson", ".json")


class UploadForm(forms.Form):
    department = forms.ChoiceField(label=gettext_lazy("Department"))
    dataset = forms.ChoiceField(label=gettext_lazy("Dataset"))
    file = forms.FileField(
        label=gettext_lazy("File"),
        help_text=gettext_lazy("CSV (UTF-8 or GB18030), XLSX or JSON Lines."),
    )
    dry_run = forms.BooleanField(
        label=gettext_lazy("Dry run: check the file without storing records"), required=False
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        depts = list(selectors.submitting_departments(user=user))
        self.fields["department"].choices = [(d.code, d.name) for d in depts]
        if not user.is_citywide:
            self.fields["department"].widget = forms.HiddenInput()
            if depts:
                self.fields["department"].initial = depts[0].code
        self.fields["dataset"].choices = [
            (d["code"], selectors.dataset_name(d["code"]))
            for d in selectors.submittable_datasets(user=user)
        ]

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if not f.name.lower().endswith(UPLOAD_SUFFIXES):
            raise forms.ValidationError(_("Upload a CSV, XLSX or JSON Lines file."))
        return f

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        dept_code, dataset = data.get("department"), data.get("dataset")
        if dept_code and dataset:
            entry = selectors.datasets().get(dataset) or {}
            if dept_code not in (entry.get("departments") or []):
                self.add_error("dataset", _("This department may not submit this dataset."))
        return data


@login_required
def upload(request: HttpRequest) -> HttpResponse:
    _require_ingest(request.user)
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            from . import services

            try:
                job = services.ingest_upload(
                    upload=data["file"],
                    department=Department.objects.get(code=data["department"]),
                    dataset=data["dataset"],
                    actor=request.user,
                    channel=SourceFile.Channel.WEB,
                    original_name=data["file"].name,
                    dry_run=data["dry_run"],
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("records:job", job_id=job.pk)
    else:
        form = UploadForm(user=request.user, initial={"dataset": request.GET.get("dataset")})
    return render(request, "records/upload.html", {"form": form})


def _job_for(request: HttpRequest, job_id: Any) -> Job:
    job = Job.objects.restrict(request.user).filter(pk=job_id).first()
    if job is None:
        raise Http404(_("No such job."))
    return job


def _job_context(job: Job, user: Any) -> dict[str, Any]:
    sf = selectors.source_file_list(actor=user).filter(job=job).first()
    outcome = job.outcome if isinstance(job.outcome, dict) else {}
    if sf is None and outcome.get("submission_id"):
        sf = selectors.source_file_list(actor=user).filter(pk=outcome["submission_id"]).first()
    counts = [
        (key, outcome.get(key))
        for key in ("accepted", "rejected", "duplicates", "updated")
        if outcome.get(key) is not None
    ]
    reasons = outcome.get("reasons") if isinstance(outcome.get("reasons"), dict) else {}
    return {
        "job": job,
        "sf": sf,
        "counts": counts,
        "reasons": sorted(reasons.items(), key=lambda kv: -kv[1]) if reasons else [],
        "outcome": outcome,
        "refusal": outcome.get("refusal") if outcome.get("refused") else None,
    }


@login_required
def job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    j = _job_for(request, job_id)
    return render(request, "records/job.html", _job_context(j, request.user))


@login_required
def job_progress(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The progress partial (htmx polls it every second until the job has finished)."""
    j = _job_for(request, job_id)
    response = render(request, "records/_job_progress.html", _job_context(j, request.user))
    if j.is_finished:
        response["HX-Trigger"] = "jobFinished"
    return response


# --------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------


@login_required
def quarantine(request: HttpRequest) -> HttpResponse:
    reason = request.GET.get("reason") or None
    dataset = request.GET.get("dataset") or None
    status = request.GET.get("status") or QuarantinedRow.Status.OPEN
    if status not in QuarantinedRow.Status.values:
        status = QuarantinedRow.Status.OPEN
    rows = selectors.quarantine_list(
        actor=request.user, status=status, reason=reason, dataset=dataset
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "records/quarantine.html",
        {
            "page": page,
            "query": _query(request),
            "reason": reason or "",
            "dataset": dataset or "",
            "status": status,
            "statuses": QuarantinedRow.Status.choices,
            "reason_counts": selectors.quarantine_reason_counts(
                actor=request.user, status=status, dataset=dataset
            ),
            "datasets": [
                (code, selectors.dataset_name(code))
                for code in selectors.quarantine_datasets(actor=request.user)
            ],
        },
    )


@login_required
def quarantine_row(request: HttpRequest, pk: int) -> HttpResponse:
    row = _get_or_404(selectors.quarantine_row_get, actor=request.user, pk=pk)
    cells = selectors.quarantine_row_fields(row)
    general = []
    if cells and "general" in cells[0]:
        general = cells.pop(0)["general"]
    errors: list[str] = []
    if request.method == "POST":
        _require_ingest(request.user)
        if row.status != QuarantinedRow.Status.OPEN:
            return HttpResponseBadRequest(_("This row is no longer open."))
        original = row.raw if isinstance(row.raw, dict) else {}
        corrected = {}
        for c in cells:
            value = request.POST.get(f"cell:{c['key']}", "")
            before = original.get(c["key"])
            if value != ("" if before is None else str(before)):
                corrected[c["key"]] = value
        from . import services

        try:
            row = services.quarantine_resubmit(row=row, corrected=corrected, actor=request.user)
        except ApplicationError as exc:
            errors.append(exc.message)
        else:
            if row.status == QuarantinedRow.Status.RESOLVED:
                messages.success(request, _("The corrected row was accepted."))
                return redirect(_next_url(request, row))
            messages.error(request, _("The corrected row still has errors."))
            cells = selectors.quarantine_row_fields(row)
            if cells and "general" in cells[0]:
                general = cells.pop(0)["general"]
    return render(
        request,
        "records/quarantine_row.html",
        {
            "row": row,
            "cells": cells,
            "general": general,
            "errors": errors,
            "dataset_name": selectors.dataset_name(row.source_file.dataset),
            "can_correct": has_scope(request.user, "records.ingest")
            and row.status == QuarantinedRow.Status.OPEN,
            "next": request.GET.get("next") or request.POST.get("next") or "",
        },
    )


def _next_url(request: HttpRequest, row: QuarantinedRow) -> str:
    nxt = request.POST.get("next") or ""
    if nxt.startswith("/records/"):
        return nxt
    return reverse("records:submission", args=[row.source_file_id])


@login_required
@require_POST
def quarantine_discard(request: HttpRequest, pk: int) -> HttpResponse:
    _require_ingest(request.user)
    row = _get_or_404(selectors.quarantine_row_get, actor=request.user, pk=pk)
    from . import services

    try:
        services.quarantine_discard(row=row, actor=request.user)
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("records:quarantine_row", pk=row.pk)
    messages.success(request, _("The row was discarded."))
    return redirect(_next_url(request, row))


# --------------------------------------------------------------------------------------------
# Timeliness
# --------------------------------------------------------------------------------------------


class TimelinessForm(forms.Form):
    date_from = forms.DateField(
        label=gettext_lazy("Decisions from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label=gettext_lazy("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    department = forms.CharField(required=False, widget=forms.HiddenInput())


@login_required
def timeliness(request: HttpRequest) -> HttpResponse:
    form = TimelinessForm(request.GET or None)
    f = form.cleaned_data if form.is_valid() else {}
    date_from: dt.date | None = f.get("date_from")
    date_to: dt.date | None = f.get("date_to")
    report = selectors.timeliness(actor=request.user, date_from=date_from, date_to=date_to)
    dept_code = f.get("department") or None
    late = None
    department = None
    if dept_code is not None:
        department = Department.objects.filter(code=dept_code).first()
    if department is not None or request.GET.get("late"):
        try:
            page_no = int(request.GET.get("page") or 1)
        except ValueError:
            page_no = 1
        late = selectors.late_submissions(
            actor=request.user,
            department=dept_code,
            date_from=date_from,
            date_to=date_to,
            page=page_no,
            per_page=PAGE_SIZE,
        )
    worst = max((d.p90 or 0 for d in report.departments), default=0)
    return render(
        request,
        "records/timeliness.html",
        {
            "form": form,
            "report": report,
            "late": late,
            "department": department,
            "query": _query(request),
            "scale": max(worst, report.limit * 2, 1),
        },
    )
