"""The credit panels of the staff dashboard: the class distribution of the latest run."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from qualitycity.core.dashboard import register_panel


def _distribution(request: HttpRequest) -> dict[str, Any]:
    from . import selectors

    return selectors.dashboard_distribution(request.user)


def register() -> None:
    register_panel(
        key="credit.distribution",
        template="credit/panels/distribution.html",
        context=_distribution,
        order=30,
        roles={"platform_admin", "quality_office", "data_officer", "inspector"},
    )
