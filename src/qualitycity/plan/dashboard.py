"""The plan's panel on the staff dashboard: a summary for the quality office linking to the
plan dashboard (``plan:index``), shown first."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from qualitycity.core.dashboard import register_landing, register_panel


def _context(request: HttpRequest) -> dict[str, Any]:
    from . import selectors
    from .models import ProgressReport

    plan = selectors.current_plan()
    overview = selectors.targets_overview(plan)
    counts: dict[str, int] = {}
    for t in overview:
        key = t["projection"]["status"] or "unknown"
        counts[key] = counts.get(key, 0) + 1
    return {
        "plan": plan,
        "targets": len(overview),
        "projection_counts": counts,
        "good": counts.get("on_track", 0) + counts.get("achieved", 0),
        "off_track": counts.get("off_track", 0),
        "overdue": ProgressReport.objects.filter(
            measure__plan=plan, status=ProgressReport.Status.OVERDUE
        ).count(),
        "submitted": ProgressReport.objects.filter(
            measure__plan=plan, status=ProgressReport.Status.SUBMITTED
        ).count(),
        "unconfirmed": plan.measures.filter(departments_confirmed=False).count(),
    }


def register() -> None:
    register_panel(
        key="plan.summary",
        template="plan/panels/summary.html",
        context=_context,
        order=1,
        roles={"platform_admin", "quality_office"},
    )
    # The plan's dashboard is the quality office's top page (the workbench stays one click away).
    register_landing(roles={"quality_office"}, url_name="plan:index")
