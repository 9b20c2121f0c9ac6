"""Dashboard panels of the records app: subjects, records, quarantine, timeliness.

Registered in ``RecordsConfig.ready()``. Each context function reads through the selectors,
which apply ``restrict`` to the signed-in user. Charts are CSS bars rendered on the server.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from . import selectors

STAFF_ROLES = {"platform_admin", "quality_office", "data_officer", "inspector"}
TIMELINESS_CACHE_SECONDS = 60


def bars(rows: Iterable[tuple[str, int]], *, url: Any = None, limit: int = 12) -> list[dict]:
    """(label, count) pairs as bar rows with a width in percent of the largest count.

    ``url`` may be a function (row index, label) → link for each bar's label.
    """
    items = list(rows)
    top = max((n for _, n in items), default=0) or 1
    shown = items[:limit]
    out = [
        {"label": label, "n": n, "pct": round(100.0 * n / top, 1), "url": url(i) if url else None}
        for i, (label, n) in enumerate(shown)
    ]
    rest = sum(n for _, n in items[limit:])
    if rest:
        out.append({"label": None, "n": rest, "pct": round(100.0 * rest / top, 1), "url": None})
    return out


def subjects_panel(request: HttpRequest) -> dict[str, Any]:
    data = selectors.subjects_by_type_and_district()
    return {
        "total": data["total"],
        "by_type": bars(data["by_type"]),
        "by_district": bars(data["by_district"]),
    }


def records_panel(request: HttpRequest) -> dict[str, Any]:
    by_dept = selectors.records_by_department(actor=request.user)
    by_dataset = selectors.records_by_dataset(actor=request.user)
    base = reverse("records:submissions")
    return {
        "total": sum(n for _, n in by_dept),
        "by_department": bars(
            [(d.name, n) for d, n in by_dept],
            url=lambda i: (
                f"{base}?department={by_dept[i][0].code}" if request.user.is_citywide else None
            ),
        ),
        "by_dataset": bars(
            [(name, n) for _, name, n in by_dataset],
            url=lambda i: f"{base}?dataset={by_dataset[i][0]}",
        ),
    }


def quarantine_panel(request: HttpRequest) -> dict[str, Any]:
    counts = selectors.quarantine_reason_counts(actor=request.user)
    base = reverse("records:quarantine")
    return {
        "total": sum(n for _, n in counts),
        "by_reason": bars(counts, url=lambda i: f"{base}?reason={counts[i][0]}"),
    }


def _cache_key(user: Any) -> str:
    if user.is_citywide:
        scope = "all"
    elif getattr(user, "role", None) == "inspector":
        scope = "inspector"
    else:
        scope = f"dept{user.department_id or 0}-user{user.pk}"
    return f"records:dashboard:timeliness:v2:{scope}"


def timeliness_panel(request: HttpRequest) -> dict[str, Any]:
    key = _cache_key(request.user)
    cached = cache.get(key)
    if cached is None:
        report = selectors.timeliness(actor=request.user)
        rows = [
            {
                "department": d.department.name,
                "code": d.department.code,
                "records": d.records,
                "median": d.median,
                "p90": d.p90,
                "due": d.due,
                "late": d.late,
                "late_percent": d.late_percent,
            }
            for d in report.departments
        ]
        cached = {"rows": rows, "backfill": report.backfill_records}
        cache.set(key, cached, TIMELINESS_CACHE_SECONDS)
    rows = [dict(row) for row in cached["rows"]]
    for row in rows:
        row["pct"] = min(100.0, row["late_percent"] or 0.0)
    return {
        "limit": selectors.DOUBLE_PUBLICITY_DAYS,
        "rows": rows[:12],
        "more": max(0, len(rows) - 12),
        "late": sum(r["late"] for r in rows),
        "due": sum(r["due"] for r in rows),
        "backfill": cached["backfill"],
    }


def register() -> None:
    """Register the panels with the core dashboard (called from ``RecordsConfig.ready``)."""
    from qualitycity.core.dashboard import register_panel

    register_panel(
        key="records.subjects",
        template="records/panels/subjects.html",
        context=subjects_panel,
        order=10,
        roles=STAFF_ROLES,
    )
    register_panel(
        key="records.records",
        template="records/panels/records.html",
        context=records_panel,
        order=20,
        roles=STAFF_ROLES,
    )
    register_panel(
        key="records.quarantine",
        template="records/panels/quarantine.html",
        context=quarantine_panel,
        order=30,
        roles={"platform_admin", "quality_office", "data_officer"},
    )
    register_panel(
        key="records.timeliness",
        template="records/panels/timeliness.html",
        context=timeliness_panel,
        order=40,
        roles=STAFF_ROLES,
    )
