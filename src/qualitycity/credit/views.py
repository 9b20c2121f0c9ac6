"""Web pages of the credit app: evaluation runs (start, follow, compare), the scorecards, and the
class-and-why section of a subject's credit file.

Thin: parse, authorise (``credit.read`` to look, ``credit.evaluate`` to start a run), call the
services and selectors, shape their answers for the templates.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _

from qualitycity.core import ui_selectors
from qualitycity.core.errors import ApplicationError, NotFound
from qualitycity.core.i18n import bilingual
from qualitycity.core.models import Job
from qualitycity.core.permissions import has_scope
from qualitycity.subjects.models import Subject

from . import scorecard as sc
from . import selectors
from .dashboard import distribution_rows
from .forms import EvaluationForm
from .models import RISK_CLASSES, EvaluationRun

CLASS_LABELS = dict(RISK_CLASSES)


def _require_read(user: Any) -> None:
    if not has_scope(user, "credit.read"):
        raise DjangoPermissionDenied(_("Credit-risk classes are for supervision staff only."))


def _require_evaluate(user: Any) -> None:
    if not has_scope(user, "credit.evaluate"):
        raise DjangoPermissionDenied(_("You may not start credit evaluation runs."))


def _number(value: Any, *, sign: bool = False) -> str:
    """A score or points without trailing zeros: ``-12``, ``+2.5``, ``80``."""
    d = Decimal(str(value)).normalize()
    if d == d.to_integral():
        d = d.quantize(Decimal(1))
    return f"{d:+f}" if sign else f"{d:f}"


def _zh() -> bool:
    return not (get_language() or "").startswith("en")


def _join(items: Any) -> str:
    """A list in running text: 甲、乙 in Chinese, "a, b" in English."""
    return ("、" if _zh() else ", ").join(str(i) for i in items)


def _pair(codes: dict[str, tuple[str, str]], code: str) -> str:
    names = codes.get(code)
    return str(bilingual(*names)) if names else code


def error_message(exc: ApplicationError) -> str:
    """An error of ``evaluation_start`` in the user's language (the service speaks English)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    code = exc.code
    if code == "as_of_in_future":
        return _(
            "The as-of date %(as_of)s is in the future: an evaluation uses what was known on a "
            "day that has passed (today is %(today)s)."
        ) % {"as_of": details.get("as_of", ""), "today": details.get("today", "")}
    if code == "no_scorecard_in_force":
        return _("No scorecard is in force on %(as_of)s.") % {"as_of": details.get("as_of", "")}
    if code == "unknown_scorecard":
        return _("There is no such scorecard.")
    if code == "nothing_to_evaluate":
        if "subject_types" not in details:
            return _(
                "The subject registry is empty: register subjects (or ingest registration data) "
                "before evaluating."
            )
        from qualitycity.subjects.codelists import SUBJECT_TYPES

        text = _(
            "No subject of the types the scorecards cover (%(types)s) was registered on or "
            "before %(as_of)s."
        ) % {
            "types": _join(_pair(SUBJECT_TYPES, t) for t in details.get("subject_types", [])),
            "as_of": details.get("as_of", ""),
        }
        if details.get("earliest_registration"):
            text += " " + _("The earliest was registered on %(date)s.") % {
                "date": details["earliest_registration"]
            }
        return text
    if code == "engine_unavailable":
        return _("The engine cannot run here: %(reason)s") % {"reason": exc.message}
    return exc.message


# --------------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------------


def _run_row(run: EvaluationRun) -> dict[str, Any]:
    elapsed = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "run": run,
        "scorecards": [f"{c.get('id')} {c.get('version')}" for c in run.scorecards],
        "counts": [run.class_counts.get(c, 0) for c in "ABCD"],
        "elapsed": elapsed,
        "timings": _timings(run),
    }


def _timings(run: EvaluationRun) -> list[tuple[str, float]]:
    names = {"read": _("read"), "compute": _("compute"), "store": _("store")}
    return [
        (names.get(step, step), run.timings[step])
        for step in ("read", "compute", "store")
        if isinstance(run.timings, dict) and step in run.timings
    ]


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The runs, newest first, and the form that starts one."""
    user = request.user
    _require_read(user)
    can_evaluate = has_scope(user, "credit.evaluate")
    form = None
    if request.method == "POST":
        _require_evaluate(user)
        form = EvaluationForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            from . import services

            try:
                job = services.evaluation_start(
                    engine=data["engine"],
                    as_of=data["as_of"],
                    scorecard=data["scorecard"] or None,
                    user=user,
                )
            except ApplicationError as exc:
                form.add_service_error(exc.code, error_message(exc))
            else:
                return redirect("credit:job", job_id=job.pk)
    elif can_evaluate:
        form = EvaluationForm()
    today = timezone.localdate()
    return render(
        request,
        "credit/index.html",
        {
            "form": form,
            "can_evaluate": can_evaluate,
            "rows": [_run_row(r) for r in selectors.run_list(actor=user)],
            "in_force": [
                {"card": c, "title": bilingual(c.title_zh, c.title_en)}
                for c in sc.scorecards()
                if c.in_force(today)
            ],
            "classes": list("ABCD"),
        },
    )


def _matrix(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The transition matrix: previous class (or new) down, this run's class across."""
    counts = {(r["from"] or "", r["to"]): r["count"] for r in rows}
    order = {c: i for i, c in enumerate("ABCD")}
    body = []
    for prev in ["A", "B", "C", "D", ""]:
        cells = []
        for cls in "ABCD":
            n = counts.get((prev, cls), 0)
            if not prev:
                kind = "new"
            elif order[cls] < order[prev]:
                kind = "up"
            elif order[cls] > order[prev]:
                kind = "down"
            else:
                kind = "same"
            cells.append({"count": n, "kind": kind})
        total = sum(c["count"] for c in cells)
        if prev or total:  # the "new" row only when some subject is new
            body.append({"from": prev, "cells": cells, "total": total})
    columns = [sum(r["cells"][i]["count"] for r in body) for i in range(4)]
    return {"rows": body, "columns": columns, "total": sum(columns)}


def _override_reasons(run: EvaluationRun) -> list[dict[str, Any]]:
    reasons: dict[str, str] = {}
    for summary in run.scorecards:
        card = sc.find(summary.get("id", ""), summary.get("version", ""))
        for ov in card.overrides if card else ():
            reasons.setdefault(ov.id, str(bilingual(ov.reason_zh, ov.reason_en)))
    counts = run.override_counts if isinstance(run.override_counts, dict) else {}
    return [
        {"id": ov, "count": n, "reason": reasons.get(ov, "")}
        for ov, n in sorted(counts.items(), key=lambda kv: -kv[1])
    ]


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    _require_read(user)
    try:
        run = selectors.run_get(actor=user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    previous = run.previous_run
    context: dict[str, Any] = {
        "run": run,
        "row": _run_row(run),
        "previous": previous,
        "scorecards": [
            {**c, "title": bilingual(c.get("title_zh", ""), c.get("title_en", ""))}
            for c in run.scorecards
        ],
        "overrides": _override_reasons(run),
        "job_visible": bool(run.job_id)
        and ui_selectors.job_list(user=user).filter(pk=run.job_id).exists(),
        "classes": list("ABCD"),
    }
    if run.status == EvaluationRun.Status.DONE:
        context["bars"] = distribution_rows(
            selectors.class_distribution(run),
            selectors.class_distribution(previous) if previous else None,
        )
        comparison = selectors.run_comparison(actor=user, run=run)
        context["comparison"] = comparison
        context["matrix"] = _matrix(comparison["matrix"])
    return render(request, "credit/run.html", context)


# --------------------------------------------------------------------------------------------
# The evaluation job
# --------------------------------------------------------------------------------------------


def _evaluation_job(request: HttpRequest, job_id: uuid.UUID) -> Job:
    _require_read(request.user)
    try:
        job = ui_selectors.job_get(user=request.user, job_id=job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if job.kind != "evaluate":
        raise Http404(_("No such job."))
    return job


def _step(percent: float | None) -> str:
    """What the job is doing, from the share of the work done (read 15, compute 35, store 50)."""
    if percent is None or percent < 15:
        return _("Reading subjects and records")
    if percent < 50:
        return _("Computing classes")
    return _("Storing the results")


def _job_context(job: Job, user: Any) -> dict[str, Any]:
    run = EvaluationRun.objects.restrict(user, "view").filter(job=job).first()
    outcome = job.outcome if isinstance(job.outcome, dict) else {}
    if run is None and outcome.get("run_id"):
        run = EvaluationRun.objects.restrict(user, "view").filter(pk=outcome["run_id"]).first()
    params = job.params if isinstance(job.params, dict) else {}
    return {
        "job": job,
        "run": run,
        "params": params,
        "step": _step(job.percent) if job.status == Job.Status.RUNNING else "",
        "counts": [(c, run.class_counts.get(c, 0)) for c in "ABCD"]
        if run is not None and run.status == EvaluationRun.Status.DONE
        else [],
    }


@login_required
def job(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    j = _evaluation_job(request, job_id)
    return render(request, "credit/job.html", _job_context(j, request.user))


@login_required
def job_progress(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    """The progress partial (htmx polls it every second until the job has finished)."""
    j = _evaluation_job(request, job_id)
    response = render(request, "credit/_job_progress.html", _job_context(j, request.user))
    if j.is_finished:
        response["HX-Trigger"] = "jobFinished"
    return response


# --------------------------------------------------------------------------------------------
# Scorecards
# --------------------------------------------------------------------------------------------

KIND_LABELS = {
    "count": gettext_lazy("count of records"),
    "exists": gettext_lazy("has a record"),
    "sum": gettext_lazy("sum of a field"),
    "age": gettext_lazy("years since registration"),
    "status": gettext_lazy("registration status"),
}


def _field(datasets: tuple[str, ...], name: str) -> Any:
    """The catalogue's description of a data field of the first dataset that has it."""
    from qualitycity.records.catalogue import catalogue

    for code in datasets:
        ds = catalogue().datasets.get(code)
        try:
            return ds.field(name) if ds else None
        except KeyError:
            continue
    return None


def _filter_text(flt: sc.RecordFilter) -> dict[str, Any]:
    """A record filter in words: datasets, and the conditions on their records."""
    from qualitycity.records.catalogue import catalogue
    from qualitycity.records.selectors import dataset_name

    cat = catalogue()
    conditions = []
    if flt.severity:
        conditions.append(
            _("severity %(levels)s") % {"levels": ", ".join(str(s) for s in flt.severity)}
        )
    if flt.polarity:
        names = {"positive": _("positive"), "negative": _("negative"), "neutral": _("neutral")}
        conditions.append(_join(names.get(p, p) for p in flt.polarity))
    for name, values in flt.fields:
        spec = _field(flt.datasets, name)
        label = spec.label_zh if spec else name
        codes = cat.codelists.get(spec.codelist, {}) if spec and spec.codelist else {}
        colon = "：" if _zh() else ": "
        conditions.append(label + colon + _join(codes.get(v, v) for v in values))
    return {
        "datasets": _join(dataset_name(d) for d in flt.datasets),
        "conditions": conditions,
        "window": flt.window_months,
    }


def _indicator_row(ind: sc.Indicator) -> dict[str, Any]:
    from qualitycity.subjects.codelists import SUBJECT_STATUSES

    details = []
    if ind.recency:
        details.append(
            _("recency: %(bands)s")
            % {
                "bands": "; ".join(
                    _("within %(n)s months ×%(f)s") % {"n": b.within_months, "f": f"{b.factor:g}"}
                    for b in ind.recency
                )
            }
        )
    if ind.sum_field and ind.filter:
        spec = _field(ind.filter.datasets, ind.sum_field)
        details.append(
            _("points per %(unit)s of %(field)s")
            % {"field": getattr(spec, "label_zh", ind.sum_field), "unit": _number(ind.unit)}
        )
    points = _number(ind.points, sign=True) if ind.kind in ("count", "exists", "sum") else ""
    if ind.age_bands:
        points = "; ".join(
            ngettext("under %(n)s year: %(p)s", "under %(n)s years: %(p)s", b.below_years)
            % {"n": b.below_years, "p": _number(b.points, sign=True)}
            for b in ind.age_bands
        )
    if ind.status_points:
        points = "; ".join(
            f"{_pair(SUBJECT_STATUSES, s)}: {_number(p, sign=True)}" for s, p in ind.status_points
        )
    return {
        "id": ind.id,
        "label": bilingual(ind.label_zh, ind.label_en),
        "kind": ind.kind,
        "kind_label": KIND_LABELS.get(ind.kind, ind.kind),
        "filter": _filter_text(ind.filter) if ind.filter else None,
        "details": details,
        "points": points,
        "cap": _number(ind.cap) if ind.cap is not None else "",
        "basis": ind.basis,
    }


def _override_row(ov: sc.Override) -> dict[str, Any]:
    from qualitycity.subjects.codelists import SUBJECT_STATUSES

    return {
        "id": ov.id,
        "class": ov.risk_class,
        "reason": bilingual(ov.reason_zh, ov.reason_en),
        "filter": _filter_text(ov.filter) if ov.filter else None,
        "statuses": _join(_pair(SUBJECT_STATUSES, s) for s in ov.subject_status),
    }


def _card(card: sc.Scorecard, today: Any) -> dict[str, Any]:
    from qualitycity.subjects.codelists import SUBJECT_TYPES

    by_class = {c.risk_class: c for c in card.classes}
    return {
        "card": card,
        "title": bilingual(card.title_zh, card.title_en),
        "in_force": card.in_force(today),
        "subject_types": _join(_pair(SUBJECT_TYPES, t) for t in card.subject_types),
        "scale": {
            "base": _number(card.base),
            "min": _number(card.minimum),
            "max": _number(card.maximum),
        },
        "classes": [
            {
                "class": c,
                "label": CLASS_LABELS[c],
                "min": _number(by_class[c].min),
                "below": _number(by_class[c].below),
                "top": by_class[c].below == card.maximum,
            }
            for c in "ABCD"
            if c in by_class
        ],
        "indicators": [_indicator_row(i) for i in card.indicators],
        "overrides": [_override_row(o) for o in card.overrides],
        "file": card.path.rsplit("/", 1)[-1],
    }


@login_required
def scorecards(request: HttpRequest) -> HttpResponse:
    _require_read(request.user)
    today = timezone.localdate()
    cards = sorted(sc.scorecards(), key=lambda c: (c.id, c.effective_from))
    return render(request, "credit/scorecards.html", {"cards": [_card(c, today) for c in cards]})


# --------------------------------------------------------------------------------------------
# The credit file section (registered in ``dashboard.register``)
# --------------------------------------------------------------------------------------------


def credit_file_section(request: HttpRequest, *, subject: Any, file: Any) -> dict[str, Any] | None:
    """The subject's class and why, for holders of ``credit.read`` (``None`` for others).

    Records behind an indicator link to their row on the same page when the page shows it;
    records the user may not see in the credit file are counted, not listed.
    """
    user = request.user
    if not selectors.can_read(user):
        return None
    evaluation = selectors.subject_evaluation(actor=user, subject=subject)
    latest = selectors.latest_run(actor=user)
    if evaluation is None:
        reason = _unevaluated_reason(subject, latest)
        return {"evaluation": None, "reason": reason, "latest": latest}
    on_page = {r.id for g in getattr(file, "groups", []) for r in g.records}

    def anchored(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The selector lists only the records the user may see; link those on this page.
        return [{**r, "anchor": f"record-{r['id']}" if r["id"] in on_page else ""} for r in records]

    indicators = []
    for ind in evaluation.indicators:
        records, hidden = anchored(ind.records), ind.records_hidden
        indicators.append(
            {
                "label": ind.label,
                "kind": ind.kind,
                "value_text": ind.value_text,
                "points": _number(ind.points, sign=True),
                "negative": ind.points < 0,
                "basis": ind.basis,
                "records": records,
                "hidden": hidden,
                "more": max(0, ind.records_total - hidden - len(ind.records)),
            }
        )
    override = None
    if evaluation.override:
        override = {
            **evaluation.override,
            "records": anchored(evaluation.override.get("records") or []),
            "hidden": evaluation.override.get("records_hidden", 0),
        }
    run_id = evaluation.run["id"]
    return {
        "evaluation": evaluation,
        "class_label": CLASS_LABELS.get(evaluation.risk_class, evaluation.risk_class),
        "previous_label": CLASS_LABELS.get(evaluation.previous_class, ""),
        "score": _number(evaluation.score),
        "base": _number(evaluation.base),
        "indicators": indicators,
        "override": override,
        "run_id": run_id,
        "older_run": latest is not None and latest.pk != run_id,
        "latest": latest,
    }


def _unevaluated_reason(subject: Any, latest: EvaluationRun | None) -> str:
    if subject.kind == Subject.Kind.PERSON:
        return _("Natural persons are not classified: the scorecards cover market subjects only.")
    covered = {t for c in sc.scorecards() for t in c.subject_types}
    if subject.subject_type not in covered:
        return _("No scorecard covers subjects of this type.")
    if latest is None:
        return _("No evaluation run has completed yet.")
    return _(
        "The subject was not evaluated: it was registered after the as-of date of the latest run, "
        "or it is deregistered."
    )
