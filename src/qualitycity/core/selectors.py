"""Reads of the core app: departments and API clients, as plain rows for the CLI and the API."""

from __future__ import annotations

from typing import Any

from .models import ApiClient, Department


def department_list() -> list[dict[str, Any]]:
    """Every department, in configuration order."""
    return [
        {
            "code": d.code,
            "name_zh": d.name_zh,
            "name_en": d.name_en,
            "uscc": d.uscc,
            "data_holding": d.data_holding,
        }
        for d in Department.objects.order_by("sort", "code")
    ]


def apiclient_list() -> list[dict[str, Any]]:
    """Every API client with its department, scopes and state (never its key)."""
    return [
        {
            "name": c.name,
            "department": c.department.code,
            "key_prefix": c.key_prefix,
            "scopes": list(c.scopes),
            "rate_limit": c.rate_limit,
            "active": c.active,
            "last_used_at": c.last_used_at.isoformat() if c.last_used_at else None,
        }
        for c in ApiClient.objects.select_related("department").order_by("name")
    ]


def job_list(*, limit: int = 20) -> list[dict[str, Any]]:
    """Recent jobs for operators (the CLI runs with the operator's full authority)."""
    from .models import Job

    return [
        {
            "id": str(j.pk),
            "kind": j.kind,
            "title": j.title,
            "status": j.status,
            "total": j.total,
            "done": j.done,
            "unit": j.unit,
            "percent": j.percent,
            "eta_seconds": j.eta_seconds,
            "created_at": j.created_at.isoformat(),
            "finished_at": j.finished_at.isoformat() if j.finished_at else None,
            "outcome": j.outcome,
            "error": j.error,
        }
        for j in Job.objects.order_by("-created_at")[:limit]
    ]
