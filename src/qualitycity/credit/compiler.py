"""A scorecard compiled to one ibis expression, the same for every engine.

The expression reads two tables by name, which each engine provides (``engines``):

``qc_subjects``
    ``subject_id`` int64, ``subject_type``, ``status`` strings, ``registered_on`` date.
``qc_records``
    ``subject_id`` int64, ``dataset`` string, ``decision_date`` date, ``severity`` int64,
    ``polarity`` string, and for each data field the scorecards read: ``f_<field>`` (string, for
    code filters) or ``n_<field>`` (float64, for sums).

Arithmetic is exact so that DuckDB, SQLite and Spark agree to the last digit: points are carried
as whole *centipoints* (hundredths of a point), recency factors as thousandths, money as whole
yuan; the only rounding is one ``round`` to a whole centipoint per indicator (half away from
zero on every engine). Dates the windows start from are computed here, in Python, from the
as-of date, so no engine does calendar arithmetic.

Output: one row per subject evaluated, with ``subject_id``, ``score_cp``, ``risk_class``,
``override`` (the id of the override applied, or null) and, per indicator ``<id>``, its value
``v_<id>`` (count, recency-weighted count ×1000, sum in yuan, 1/0, age in days, status) and its
points ``p_<id>`` in centipoints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import ibis
import ibis.expr.types as ir

from .scorecard import Indicator, RecordFilter, Scorecard, months_before

RECORDS = "qc_records"
SUBJECTS = "qc_subjects"

FACTOR_SCALE = 1000
"""Recency factors are carried as thousandths."""

MONEY_SCALE = 10000
"""Money fields of the catalogue are in 万元 (10,000 yuan); sums are carried in whole yuan."""

SUBJECT_SCHEMA = {
    "subject_id": "int64",
    "subject_type": "string",
    "status": "string",
    "registered_on": "date",
}
RECORD_SCHEMA = {
    "subject_id": "int64",
    "dataset": "string",
    "decision_date": "date",
    "severity": "int64",
    "polarity": "string",
}


def cp(points: float) -> int:
    """Points as whole centipoints."""
    return round(points * 100)


def record_columns(cards: Iterable[Scorecard]) -> dict[str, str]:
    """The data-field columns the given scorecards need: column name → ibis type."""
    out: dict[str, str] = {}
    for card in cards:
        for name, kind in card.record_fields().items():
            if kind == "number":
                out[f"n_{name}"] = "float64"
            else:
                out[f"f_{name}"] = "string"
    return dict(sorted(out.items()))


def record_datasets(cards: Iterable[Scorecard]) -> set[str]:
    """Every dataset the given scorecards read."""
    out: set[str] = set()
    for card in cards:
        for flt in _filters(card):
            out.update(flt.datasets)
    return out


def earliest_start(cards: Iterable[Scorecard], as_of: dt.date) -> dt.date | None:
    """Records decided on or before this date are read by none of the scorecards."""
    starts = [flt.window_start(as_of) for card in cards for flt in _filters(card)]
    if not starts or any(s is None for s in starts):
        return None
    return min(starts)  # type: ignore[type-var]


def _filters(card: Scorecard) -> list[RecordFilter]:
    return [i.filter for i in card.indicators if i.filter] + [
        o.filter for o in card.overrides if o.filter
    ]


def tables(extra_columns: dict[str, str]) -> tuple[ir.Table, ir.Table]:
    """The two unbound input tables, named as the engines provide them."""
    subjects = ibis.table(SUBJECT_SCHEMA, name=SUBJECTS)
    records = ibis.table({**RECORD_SCHEMA, **extra_columns}, name=RECORDS)
    return subjects, records


def _match(r: ir.Table, flt: RecordFilter, as_of: dt.date) -> ir.BooleanValue:
    cond = r.dataset.isin(list(flt.datasets))
    start = flt.window_start(as_of)
    if start is not None:
        cond &= r.decision_date > ibis.literal(start)
    if flt.severity:
        cond &= r.severity.isin(list(flt.severity))
    if flt.polarity:
        cond &= r.polarity.isin(list(flt.polarity))
    for name, values in flt.fields:
        cond &= r[f"f_{name}"].isin(list(values))
    return cond


def _recency(r: ir.Table, ind: Indicator, as_of: dt.date) -> ir.IntegerValue:
    """The record's recency factor in thousandths (1000 without bands)."""
    if not ind.recency:
        return ibis.literal(FACTOR_SCALE, type="int64")
    branches = [
        (
            r.decision_date > ibis.literal(months_before(as_of, b.within_months)),
            ibis.literal(round(b.factor * FACTOR_SCALE), type="int64"),
        )
        for b in ind.recency
    ]
    return ibis.cases(*branches, else_=ibis.literal(0, type="int64"))


def _clip(value: ir.IntegerValue, cap: float | None) -> ir.IntegerValue:
    if cap is None:
        return value
    limit = cp(cap)
    return ibis.cases((value > limit, limit), (value < -limit, -limit), else_=value)


def _round_div(numerator: ir.IntegerValue, denominator: int) -> ir.IntegerValue:
    """``numerator / denominator`` to the nearest integer, halves away from zero."""
    return (numerator.cast("float64") / denominator).round(0).cast("int64")


def compile_scorecard(card: Scorecard, as_of: dt.date, extra_columns: dict[str, str]) -> ir.Table:
    """The evaluation of ``card`` on ``as_of`` as one ibis expression (see the module doc)."""
    subjects, records = tables(extra_columns)
    zero = ibis.literal(0, type="int64")
    as_of_lit = ibis.literal(as_of)

    r = records.filter(
        records.decision_date.notnull(),
        records.decision_date <= as_of_lit,
        records.dataset.isin(sorted(record_datasets([card]))),
    )
    start = earliest_start([card], as_of)
    if start is not None:
        r = r.filter(r.decision_date > ibis.literal(start))

    aggs: dict[str, Any] = {}
    for ind in card.indicators:
        if ind.filter is None:
            continue
        cond = _match(r, ind.filter, as_of)
        if ind.kind == "count":
            per_record = _recency(r, ind, as_of)
        elif ind.kind == "exists":
            per_record = ibis.literal(1, type="int64")
        else:  # sum: whole yuan per record
            per_record = (r[f"n_{ind.sum_field}"].fill_null(0) * MONEY_SCALE).round(0).cast("int64")
        value = ibis.cases((cond, per_record), else_=zero)
        aggs[f"v_{ind.id}"] = value.max() if ind.kind == "exists" else value.sum()
    for ov in card.overrides:
        if ov.filter is not None:
            aggs[f"o_{ov.id}"] = ibis.cases((_match(r, ov.filter, as_of), 1), else_=0).max()

    s = subjects.filter(
        subjects.subject_type.isin(list(card.subject_types)),
        subjects.status != "cancelled",
        subjects.registered_on.isnull() | (subjects.registered_on <= as_of_lit),
    )
    if aggs:
        per_subject = r.group_by("subject_id").aggregate(**aggs)
        j = s.left_join(per_subject, "subject_id")
    else:
        j = s

    columns: dict[str, Any] = {}
    points: list[ir.IntegerValue] = []
    for ind in card.indicators:
        if ind.kind in ("count", "exists", "sum"):
            value = j[f"v_{ind.id}"].fill_null(0).cast("int64")
            if ind.kind == "count":
                # centipoints = value/1000 × points×100
                p = _round_div(value * cp(ind.points), FACTOR_SCALE)
            elif ind.kind == "exists":
                p = value * cp(ind.points)
            else:
                # centipoints = (yuan / (unit × 10000)) × points×100
                p = _round_div(value * cp(ind.points), round(ind.unit * MONEY_SCALE))
            p = _clip(p, ind.cap)
        elif ind.kind == "age":
            # Age in days on the as-of date; a subject with no registration date has no age
            # and gets no points.
            value = (as_of_lit.delta(j.registered_on, unit="day")).cast("int64")
            branches = [
                (
                    j.registered_on > ibis.literal(months_before(as_of, 12 * b.below_years)),
                    ibis.literal(cp(b.points), type="int64"),
                )
                for b in ind.age_bands
            ]
            p = ibis.cases((j.registered_on.isnull(), zero), *branches, else_=zero)
        else:  # status
            value = j.status
            branches = [
                (j.status == status, ibis.literal(cp(pts), type="int64"))
                for status, pts in ind.status_points
            ]
            p = ibis.cases(*branches, else_=zero) if branches else zero
        columns[f"v_{ind.id}"] = value
        columns[f"p_{ind.id}"] = p
        points.append(p)

    # The score first (in centipoints, clamped to the scale), then its class.
    raw = ibis.literal(cp(card.base), type="int64")
    for p in points:
        raw = raw + p
    lo, hi = cp(card.minimum), cp(card.maximum)
    score = ibis.cases((raw < lo, lo), (raw > hi, hi), else_=raw)

    override_branches = []
    for ov in card.overrides:
        if ov.filter is not None:
            cond = j[f"o_{ov.id}"].fill_null(0) == 1
        else:
            cond = j.status.isin(list(ov.subject_status))
        override_branches.append((cond, ibis.literal(ov.id, type="string")))
    override = (
        ibis.cases(*override_branches, else_=ibis.null("string"))
        if override_branches
        else ibis.null("string")
    )

    out = j.select(subject_id=j.subject_id, **columns, score_cp=score, override=override)
    class_branches = [(out.override == ov.id, ibis.literal(ov.risk_class)) for ov in card.overrides]
    # Ranges run from the bottom of the scale up; the top class includes the maximum.
    for band in card.classes[:-1]:
        class_branches.append((out.score_cp < cp(band.below), ibis.literal(band.risk_class)))
    risk_class = ibis.cases(*class_branches, else_=ibis.literal(card.classes[-1].risk_class))
    return out.mutate(risk_class=risk_class)


def to_sql(expr: ir.Table, dialect: str) -> str:
    """The SQL an engine runs for ``expr``; ``dialect`` is duckdb, sqlite or pyspark.

    ibis compiles for PySpark only once its pyspark backend module is loaded (otherwise
    compiling a float literal fails on a missing backend attribute), so load it first.
    """
    if dialect == "pyspark":
        ibis.pyspark  # noqa: B018 - attribute access loads the backend
    return ibis.to_sql(expr, dialect=dialect)
