"""What the credit app adds to other apps' pages: the class distribution panel of the staff
dashboard and the class-and-why section of a subject's credit file."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from qualitycity.core.dashboard import register_panel
from qualitycity.core.permissions import has_scope
from qualitycity.core.sections import register_file_section


def distribution_rows(
    distribution: list[dict[str, Any]], previous: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """One row per class: this run's count and share beside the previous run's, and the change."""
    before = {row["class"]: row for row in previous or []}
    # Bars are drawn against the largest share of either run, so the biggest class fills the cell.
    scale = max([r["percent"] for r in [*distribution, *before.values()]] + [0]) or 1
    rows = []
    for row in distribution:
        prev = before.get(row["class"])
        rows.append(
            {
                **row,
                "width": round(100 * row["percent"] / scale, 1),
                "previous_count": prev["count"] if prev else None,
                "previous_percent": prev["percent"] if prev else None,
                "previous_width": round(100 * prev["percent"] / scale, 1) if prev else None,
                "change": row["count"] - prev["count"] if prev else None,
            }
        )
    return rows


def _distribution(request: HttpRequest) -> dict[str, Any]:
    from . import selectors

    data = selectors.dashboard_distribution(request.user)
    data["can_evaluate"] = has_scope(request.user, "credit.evaluate")
    if data.get("run") is not None:
        data["rows"] = distribution_rows(data["distribution"], data["previous"])
    return data


def _file_section(request: HttpRequest, *, subject: Any, file: Any) -> dict[str, Any] | None:
    from .views import credit_file_section

    return credit_file_section(request, subject=subject, file=file)


def register() -> None:
    register_panel(
        key="credit.distribution",
        template="credit/panels/distribution.html",
        context=_distribution,
        order=30,
        roles={"platform_admin", "quality_office", "data_officer", "inspector"},
    )
    register_file_section(
        key="credit.class",
        template="credit/_file_section.html",
        context=_file_section,
        order=10,
        scope="credit.read",
    )
