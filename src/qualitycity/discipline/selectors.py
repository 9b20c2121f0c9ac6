"""Reading for joint reward and punishment: the answer of a check, the data version, statistics.

The single check is on the hot path of every department's business system ("check before you
act"), so it reads in one SQL statement: the subject, the data version and the entries in force
on the day. The rule for "in force" is the lists app's own (``lists.selectors.in_force_q``),
compiled once per process into that statement; the batch path calls
``lists.selectors.entries_in_force`` itself. Measures come from the in-memory catalogue.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from qualitycity.lists import catalogue as lists_catalogue
from qualitycity.lists.models import DataVersion, ListEntry
from qualitycity.lists.selectors import entries_in_force, in_force_q
from qualitycity.subjects.models import Subject

from .catalogue import Catalogue, catalogue
from .models import Check, CheckHit, Feedback

STATUS_LISTED = "listed"
STATUS_CLEAN = "clean"
STATUS_NOT_REGISTERED = "not_registered"
STATUS_INVALID = "invalid"

_SENTINEL_DAY = dt.date(1901, 2, 3)


@dataclass
class EntryRow:
    """A list entry in force, as a check reads it."""

    id: int
    list_code: str
    published_on: Any
    publication_ends_on: Any
    ended_on: Any


@dataclass
class Looked:
    """What the database says about one subject on one day."""

    code: str
    subject_id: int | None
    subject_kind: str | None
    entries: list[EntryRow] = field(default_factory=list)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()


# --- the data version ---------------------------------------------------------------------------


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _version_sql() -> str:
    # One row read by its primary key: cheap on every backend. Every change of a list entry
    # goes through lists.services, which raises the counter in the same transaction.
    return f"(SELECT n FROM {_table(DataVersion)} WHERE id = 1)"


def version_string(cat: Catalogue, counter: int | None) -> str:
    """``<catalogue digest>.<list data counter>``: changes whenever the measures catalogue, the
    list catalogue, or any list entry or its history changes (``lists.models.DataVersion``)."""
    return f"{cat.digest}.{counter or 0}"


def data_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_version_sql()}")
        (counter,) = cursor.fetchone()
    return version_string(catalogue(), counter)


# --- the single check: one statement ------------------------------------------------------------


@functools.cache
def _single_sql(vendor: str) -> tuple[str, tuple[int, ...], tuple[Any, ...]]:
    """The statement of a single check, for this database vendor.

    Returns the SQL, the positions of the in-force parameters that take the day, and the other
    in-force parameters as compiled.
    """
    qs = ListEntry.objects.filter(in_force_q(_SENTINEL_DAY))
    where_sql, where_params = qs.query.get_compiler(connection=connection).compile(qs.query.where)
    sentinel = connection.ops.adapt_datefield_value(_SENTINEL_DAY)
    day_positions = tuple(i for i, p in enumerate(where_params) if p == sentinel)
    subjects, entries = _table(Subject), _table(ListEntry)
    sql = (
        f"SELECT s.id, s.kind, {_version_sql()}, "
        f"{entries}.id, {entries}.list_code, {entries}.published_on, "
        f"{entries}.publication_ends_on, {entries}.ended_on "
        f"FROM (SELECT CAST(%s AS VARCHAR(18)) AS code) q "
        f"LEFT JOIN {subjects} s ON s.code = q.code "
        f"LEFT JOIN {entries} ON {entries}.subject_id = s.id AND {where_sql} "
        f"ORDER BY {entries}.list_code, {entries}.id"
    )
    return sql, day_positions, tuple(where_params)


def lookup_one(code: str, on: dt.date) -> tuple[Looked, str]:
    """The subject registered under a normalised ``code``, its entries in force on ``on`` and
    the data version, read together (one statement, one snapshot)."""
    sql, day_positions, where_params = _single_sql(connection.vendor)
    day = connection.ops.adapt_datefield_value(on)
    params = list(where_params)
    for i in day_positions:
        params[i] = day
    with connection.cursor() as cursor:
        cursor.execute(sql, [code, *params])
        rows = cursor.fetchall()
    first = rows[0]
    looked = Looked(code=code, subject_id=first[0], subject_kind=first[1])
    for row in rows:
        if row[3] is not None:
            looked.entries.append(EntryRow(*row[3:8]))
    return looked, version_string(catalogue(), first[2])


# --- many subjects ------------------------------------------------------------------------------


def lookup_many(codes: Iterable[str], on: dt.date) -> tuple[dict[str, Looked], str]:
    """``lookup_one`` for many normalised codes: a subjects query per chunk of 900 codes, then
    the lists app's ``entries_in_force``. The data version is read before and after; a change in
    between reads again, so the answer and its version always belong together."""
    unique = list(dict.fromkeys(codes))
    for _attempt in range(3):
        before = data_version()
        found: dict[str, Looked] = {
            c: Looked(code=c, subject_id=None, subject_kind=None) for c in unique
        }
        by_id: dict[int, Looked] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(unique), 900):
                chunk = unique[start : start + 900]
                cursor.execute(
                    f"SELECT id, code, kind FROM {_table(Subject)} "
                    f"WHERE code IN ({', '.join(['%s'] * len(chunk))})",
                    chunk,
                )
                for subject_id, code, kind in cursor.fetchall():
                    looked = found[code]
                    looked.subject_id, looked.subject_kind = subject_id, kind
                    by_id[subject_id] = looked
        for subject_id, entries in entries_in_force(by_id, on).items():
            by_id[subject_id].entries = [
                EntryRow(e.id, e.list_code, e.published_on, e.publication_ends_on, e.ended_on)
                for e in sorted(entries, key=lambda e: (e.list_code, e.id))
            ]
        if data_version() == before:
            break
    return found, before


# --- the answer ---------------------------------------------------------------------------------


def list_item(entry: EntryRow) -> dict[str, Any]:
    definition = lists_catalogue.lists().get(entry.list_code)
    ends = [d for d in (entry.publication_ends_on, entry.ended_on) if d is not None]
    return {
        "entry_id": entry.id,
        "list": entry.list_code,
        "name_zh": definition.name_zh if definition else entry.list_code,
        "name_en": definition.name_en if definition else entry.list_code,
        "kind": definition.kind if definition else "",
        "department": definition.department if definition else "",
        "published_on": _iso(entry.published_on),
        "ends_on": _iso(min(ends, key=_iso)) if ends else None,
    }


def answer(looked: Looked, *, scenario: str, on: dt.date) -> dict[str, Any]:
    """The answer of a check without its log fields (``check_id``, ``data_version``)."""
    cat = catalogue()
    if looked.subject_id is None:
        return {
            "subject": looked.code,
            "registered": False,
            "status": STATUS_NOT_REGISTERED,
            "lists": [],
            "measures": [],
        }
    lists = [list_item(e) for e in looked.entries]
    codes = [item["list"] for item in lists]
    black = any(item["kind"] == "black" for item in lists)
    measures = [
        {**measure.public, "triggered_by": list(triggers)}
        for measure, triggers in cat.applicable(
            scenario=scenario,
            day=on,
            list_codes=codes,
            subject_kind=looked.subject_kind,
            black_listed=black,
        )
    ]
    return {
        "subject": looked.code,
        "registered": True,
        "status": STATUS_LISTED if lists else STATUS_CLEAN,
        "lists": lists,
        "measures": measures,
    }


# --- the log: recent checks and statistics ------------------------------------------------------


def recent_checks(*, actor: Any, limit: int = 20) -> list[Check]:
    return list(
        Check.objects.restrict(actor)
        .select_related("department", "api_client", "user")
        .order_by("-created_at", "-id")[:limit]
    )


def _day_bounds(date_from: dt.date | None, date_to: dt.date | None) -> Q:
    q = Q()
    tz = timezone.get_current_timezone()
    if date_from is not None:
        q &= Q(created_at__gte=dt.datetime.combine(date_from, dt.time(), tzinfo=tz))
    if date_to is not None:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        q &= Q(created_at__lt=end)
    return q


def check_stats(
    *,
    actor: Any,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    department: str | None = None,
) -> dict[str, Any]:
    """Checks, hits, measures returned and measures applied (from feedback) per department,
    scenario, list and measure, for checks made from ``date_from`` to ``date_to`` (local days,
    inclusive). City-wide roles see every department; others their own department."""
    from qualitycity.core.models import Department

    cat = catalogue()
    list_defs = lists_catalogue.lists()
    checks = Check.objects.restrict(actor).filter(_day_bounds(date_from, date_to))
    if department:
        checks = checks.filter(department__code=department)
    counting = {
        "checks": Count("id"),
        "hits": Count("id", filter=Q(hit=True)),
        "not_registered": Count("id", filter=Q(subject__isnull=True)),
        "measures_returned": Sum("measure_count"),
    }
    totals = checks.aggregate(**counting)
    by_department = {
        r["department_id"]: r
        for r in checks.values("department_id").annotate(**counting).order_by("department_id")
    }
    by_scenario = {
        r["scenario"]: r for r in checks.values("scenario").annotate(**counting).order_by()
    }
    hits = (
        CheckHit.objects.filter(check_ref__in=checks)
        .values("list_code")
        .annotate(hits=Count("id"), measures_returned=Sum("measure_count"))
        .order_by()
    )
    by_list = {r["list_code"]: r for r in hits}

    feedback = Feedback.objects.filter(check_ref__in=checks).values_list(
        "measure_id",
        "applied",
        "check_ref__department_id",
        "check_ref__scenario",
        "check_ref__lists",
    )
    zero = {"applied": 0, "not_applied": 0}
    fb_total = dict(zero)
    fb_department: dict[int, dict[str, int]] = defaultdict(lambda: dict(zero))
    fb_scenario: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    fb_list: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    fb_measure: dict[str, dict[str, int]] = defaultdict(lambda: dict(zero))
    for measure_id, applied, department_id, scenario, check_lists in feedback:
        key = "applied" if applied else "not_applied"
        fb_total[key] += 1
        fb_department[department_id][key] += 1
        fb_scenario[scenario][key] += 1
        fb_measure[measure_id][key] += 1
        measure = cat.get(measure_id)
        for code in check_lists or []:
            if measure is None or code in measure.lists:
                fb_list[code][key] += 1

    departments = {d.pk: d for d in Department.objects.all()}

    def row(counts: dict[str, Any], fb: dict[str, int]) -> dict[str, int]:
        return {
            "checks": counts.get("checks") or 0,
            "hits": counts.get("hits") or 0,
            "not_registered": counts.get("not_registered") or 0,
            "measures_returned": counts.get("measures_returned") or 0,
            "measures_applied": fb.get("applied", 0),
            "measures_not_applied": fb.get("not_applied", 0),
        }

    out_departments = []
    for department_id in sorted(
        set(by_department) | set(fb_department), key=lambda i: departments[i].sort
    ):
        d = departments[department_id]
        out_departments.append(
            {
                "department": d.code,
                "name_zh": d.name_zh,
                "name_en": d.name_en,
                **row(by_department.get(department_id, {}), fb_department.get(department_id, {})),
            }
        )
    scenario_order = list(cat.scenarios)
    out_scenarios = []
    for code in sorted(
        set(by_scenario) | set(fb_scenario),
        key=lambda c: scenario_order.index(c) if c in scenario_order else len(scenario_order),
    ):
        sc = cat.scenarios.get(code)
        out_scenarios.append(
            {
                "scenario": code,
                "name_zh": sc.name_zh if sc else code,
                "name_en": sc.name_en if sc else code,
                **row(by_scenario.get(code, {}), fb_scenario.get(code, {})),
            }
        )
    list_order = list(list_defs)
    out_lists = []
    for code in sorted(
        set(by_list) | set(fb_list),
        key=lambda c: list_order.index(c) if c in list_order else len(list_order),
    ):
        d = list_defs.get(code)
        counts = by_list.get(code, {})
        fb = fb_list.get(code, {})
        out_lists.append(
            {
                "list": code,
                "name_zh": d.name_zh if d else code,
                "name_en": d.name_en if d else code,
                "kind": d.kind if d else "",
                "hits": counts.get("hits") or 0,
                "measures_returned": counts.get("measures_returned") or 0,
                "measures_applied": fb.get("applied", 0),
                "measures_not_applied": fb.get("not_applied", 0),
            }
        )
    out_measures = []
    for measure_id in sorted(fb_measure):
        m = cat.get(measure_id)
        out_measures.append(
            {
                "measure": measure_id,
                "kind": m.kind if m else "",
                "text_zh": m.text_zh if m else "",
                "text_en": m.text_en if m else "",
                "measures_applied": fb_measure[measure_id]["applied"],
                "measures_not_applied": fb_measure[measure_id]["not_applied"],
            }
        )
    return {
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "department": department,
        "totals": row(totals, fb_total),
        "by_department": out_departments,
        "by_scenario": out_scenarios,
        "by_list": out_lists,
        "by_measure": out_measures,
    }
