"""Reading evaluations: a subject's class and why, runs, run-to-run movement, the dashboard.

Every function takes the actor and answers only what ``credit.read`` allows: the class is a
supervision tool, so the public and enterprise users get nothing (401/403 through the API).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils.translation import get_language

from qualitycity.core.errors import NotFound
from qualitycity.core.permissions import has_scope, require_scope
from qualitycity.records.models import Record
from qualitycity.records.selectors import dataset_name
from qualitycity.subjects.models import Subject

from . import scorecard as sc
from .models import EvaluationResult, EvaluationRun

MAX_RECORDS_PER_INDICATOR = 20


def can_read(actor: Any) -> bool:
    return has_scope(actor, "credit.read")


def _zh() -> bool:
    return (get_language() or "zh-hans").lower().startswith("zh")


def _label(zh: str, en: str) -> str:
    return zh if _zh() else en


@dataclass
class IndicatorExplanation:
    id: str
    label: str
    kind: str
    basis: str
    value: Any
    value_text: str
    points: Decimal
    records: list[dict[str, Any]] = field(default_factory=list)
    records_total: int = 0
    records_hidden: int = 0


@dataclass
class Evaluation:
    subject_code: str
    risk_class: str
    score: Decimal
    previous_class: str
    scorecard: dict[str, Any]
    base: Decimal
    override: dict[str, str] | None
    indicators: list[IndicatorExplanation]
    run: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject_code": self.subject_code,
            "risk_class": self.risk_class,
            "score": str(self.score),
            "previous_class": self.previous_class or None,
            "scorecard": self.scorecard,
            "base_score": str(self.base),
            "override": self.override,
            "indicators": [
                {
                    "id": i.id,
                    "label": i.label,
                    "kind": i.kind,
                    "basis": i.basis,
                    "value": i.value,
                    "value_text": i.value_text,
                    "points": str(i.points),
                    "records_total": i.records_total,
                    "records_hidden": i.records_hidden,
                    "records": i.records,
                }
                for i in self.indicators
            ],
            "run": self.run,
        }


def latest_result(subject: Subject) -> EvaluationResult | None:
    """The subject's result in the latest completed run that evaluated it."""
    return (
        EvaluationResult.objects.filter(subject=subject, run__status=EvaluationRun.Status.DONE)
        .select_related("run")
        .order_by("-run_id")
        .first()
    )


def _value_text(ind: sc.Indicator, value: Any) -> str:
    if value is None:
        return ""
    if ind.kind == "count":
        n = float(value)
        text = f"{n:g}"
        return _label(
            f"{text} 条" + ("（按时间加权）" if ind.recency else ""),
            f"{text} record(s)" + (" (recency-weighted)" if ind.recency else ""),
        )
    if ind.kind == "exists":
        return _label("有", "yes") if value else _label("无", "no")
    if ind.kind == "sum":
        wan = Decimal(int(value)) / 10000
        return _label(f"{wan:f} 万元", f"{wan:f} × 10,000 yuan")
    if ind.kind == "age":
        years = int(value) / 365.25
        return _label(f"成立 {years:.1f} 年", f"{years:.1f} years since registration")
    return str(value)


def _run_dict(run: EvaluationRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "as_of": run.as_of.isoformat(),
        "engine": run.engine,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def _record_item(rec: Record) -> dict[str, Any]:
    return {
        "id": rec.pk,
        "dataset": rec.dataset,
        "dataset_name": dataset_name(rec.dataset),
        "source_record_id": rec.source_record_id,
        "decision_date": rec.decision_date.isoformat() if rec.decision_date else None,
        "severity": rec.severity,
        "polarity": rec.polarity,
    }


def subject_evaluation(*, actor: Any, subject: Subject) -> Evaluation | None:
    """The subject's class and why: every indicator that moved the score, with its records.

    Raises 401/403 for actors without ``credit.read``. ``None`` when no completed run has
    evaluated the subject (a natural person, a cancelled subject, or no run yet).
    """
    require_scope(actor, "credit.read")
    result = latest_result(subject)
    if result is None:
        return None
    run = result.run
    card = sc.find(result.scorecard, result.scorecard_version)
    if card is None:  # a scorecard version no longer shipped: show the stored figures only
        indicators = [
            IndicatorExplanation(
                id=k,
                label=k,
                kind="",
                basis="",
                value=v,
                value_text=str(v),
                points=Decimal(str(p)).quantize(Decimal("0.01")),
            )
            for k, (v, p) in sorted(result.contributions.items())
        ]
        return Evaluation(
            subject_code=subject.code,
            risk_class=result.risk_class,
            score=result.score,
            previous_class=result.previous_class,
            scorecard={"id": result.scorecard, "version": result.scorecard_version},
            base=Decimal("0"),
            override=None,
            indicators=indicators,
            run=_run_dict(run),
        )
    filters = [i.filter for i in card.indicators if i.filter] + [
        o.filter for o in card.overrides if o.filter
    ]
    datasets = sorted({d for flt in filters for d in flt.datasets})
    records = list(
        Record.objects.filter(
            subject=subject, dataset__in=datasets, decision_date__lte=run.as_of
        ).order_by("-decision_date", "-id")
    )
    # The figures count every record; the actor is shown only the records it may see
    # (a department officer does not see other departments' non-public records).
    visible = set(
        Record.objects.restrict(actor, "view")
        .filter(pk__in=[r.pk for r in records])
        .values_list("pk", flat=True)
    )

    def behind(flt: sc.RecordFilter) -> tuple[list[dict[str, Any]], int, int]:
        matched = [r for r in records if flt.matches(r, run.as_of)]
        shown = [r for r in matched if r.pk in visible]
        return (
            [_record_item(r) for r in shown[:MAX_RECORDS_PER_INDICATOR]],
            len(matched),
            len(matched) - len(shown),
        )

    explained = []
    for ind in card.indicators:
        value, points = result.contributions.get(ind.id, [None, 0])
        pts = Decimal(str(points)).quantize(Decimal("0.01"))
        if ind.kind in ("count", "exists", "sum") and not value and not pts:
            continue
        if ind.kind in ("age", "status") and not pts:
            continue
        item = IndicatorExplanation(
            id=ind.id,
            label=_label(ind.label_zh, ind.label_en),
            kind=ind.kind,
            basis=ind.basis,
            value=value,
            value_text=_value_text(ind, value),
            points=pts,
        )
        if ind.filter is not None:
            item.records, item.records_total, item.records_hidden = behind(ind.filter)
        explained.append(item)
    explained.sort(key=lambda i: (i.points >= 0, i.points if i.points < 0 else -i.points))
    override = None
    if result.override:
        try:
            ov = card.override(result.override)
            override = {
                "id": ov.id,
                "class": ov.risk_class,
                "reason": _label(ov.reason_zh, ov.reason_en),
            }
            if ov.filter is not None:
                override["records"], _total, override["records_hidden"] = behind(ov.filter)
        except KeyError:
            override = {"id": result.override, "class": result.risk_class, "reason": ""}
    return Evaluation(
        subject_code=subject.code,
        risk_class=result.risk_class,
        score=result.score,
        previous_class=result.previous_class,
        scorecard={**card.summary(), "title": _label(card.title_zh, card.title_en)},
        base=Decimal(str(card.base)).quantize(Decimal("0.01")),
        override=override,
        indicators=explained,
        run=_run_dict(run),
    )


# --- runs ---------------------------------------------------------------------------------------


def run_list(*, actor: Any, limit: int = 50) -> list[EvaluationRun]:
    return list(EvaluationRun.objects.restrict(actor, "view").select_related("job")[:limit])


def run_get(*, actor: Any, pk: int) -> EvaluationRun:
    run = EvaluationRun.objects.restrict(actor, "view").filter(pk=pk).first()
    if run is None:
        raise NotFound(f"No evaluation run {pk}", code="run_not_found")
    return run


def latest_run(*, actor: Any) -> EvaluationRun | None:
    return (
        EvaluationRun.objects.restrict(actor, "view")
        .filter(status=EvaluationRun.Status.DONE)
        .order_by("-id")
        .first()
    )


def run_comparison(*, actor: Any, run: EvaluationRun) -> dict[str, Any]:
    """How subjects moved between classes since the previous run, overall and by district
    and industry section. A subject new in this run (no previous class) counts as ``new``."""
    require_scope(actor, "credit.read")
    from qualitycity.subjects.codelists import DISTRICTS, INDUSTRY_DIVISIONS, INDUSTRY_SECTIONS

    with connection.cursor() as cur:
        cur.execute(
            "SELECT previous_class, risk_class, COUNT(*) FROM credit_evaluationresult "
            "WHERE run_id = %s GROUP BY previous_class, risk_class",
            [run.pk],
        )
        matrix = {(p or "", c): n for p, c, n in cur.fetchall()}
        cur.execute(
            "SELECT s.district, s.industry, r.previous_class, r.risk_class, COUNT(*) "
            "FROM credit_evaluationresult r JOIN subjects_subject s ON s.id = r.subject_id "
            "WHERE r.run_id = %s GROUP BY s.district, s.industry, r.previous_class, r.risk_class",
            [run.pk],
        )
        rows = cur.fetchall()
    order = {c: i for i, c in enumerate("ABCD")}

    def bucket() -> dict[str, int]:
        return {"total": 0, "up": 0, "down": 0, "same": 0, "new": 0}

    def add(b: dict[str, int], prev: str, cls: str, n: int) -> None:
        b["total"] += n
        if not prev:
            b["new"] += n
        elif order[cls] < order[prev]:
            b["up"] += n  # toward A: lower risk
        elif order[cls] > order[prev]:
            b["down"] += n
        else:
            b["same"] += n

    overall = bucket()
    by_district: dict[str, dict[str, int]] = {}
    by_industry: dict[str, dict[str, int]] = {}
    for district, industry, prev, cls, n in rows:
        add(overall, prev or "", cls, n)
        add(by_district.setdefault(district or "", bucket()), prev or "", cls, n)
        section = INDUSTRY_DIVISIONS.get(industry or "", ("", ""))[1]
        add(by_industry.setdefault(section, bucket()), prev or "", cls, n)

    def named(table: dict[str, dict[str, int]], names: dict[str, tuple[str, str]]) -> list:
        out = []
        for code, b in sorted(table.items()):
            label = names.get(code)
            out.append(
                {
                    "code": code,
                    "name": _label(*label) if label else code or "—",
                    **b,
                    "moved": b["up"] + b["down"],
                }
            )
        return out

    return {
        "run": _run_dict(run),
        "previous_run": _run_dict(run.previous_run) if run.previous_run else None,
        "matrix": [
            {"from": p or None, "to": c, "count": n} for (p, c), n in sorted(matrix.items())
        ],
        "overall": {**overall, "moved": overall["up"] + overall["down"]},
        "by_district": named(by_district, DISTRICTS),
        "by_industry": named(by_industry, INDUSTRY_SECTIONS),
    }


def class_distribution(run: EvaluationRun) -> list[dict[str, Any]]:
    total = sum(run.class_counts.get(c, 0) for c in "ABCD") or 1
    return [
        {
            "class": c,
            "count": run.class_counts.get(c, 0),
            "percent": round(100 * run.class_counts.get(c, 0) / total, 1),
        }
        for c in "ABCD"
    ]


def dashboard_distribution(actor: Any) -> dict[str, Any]:
    run = latest_run(actor=actor)
    if run is None:
        return {"run": None}
    previous = run.previous_run
    return {
        "run": run,
        "distribution": class_distribution(run),
        "previous": class_distribution(previous) if previous else None,
        "comparison": run_comparison(actor=actor, run=run) if previous else None,
    }


def as_of_default() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()
