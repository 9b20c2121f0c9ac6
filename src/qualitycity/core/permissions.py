"""Roles, scopes and the checks every endpoint makes.

API clients carry explicit scopes named ``<app>.<action>``; signed-in users get the scopes of their
role. Object-level scoping (which department's rows) is a separate, queryset-level rule:
``Model.objects.restrict(user, action)``.
"""

from __future__ import annotations

from typing import Any

from .errors import PermissionDenied, Unauthenticated
from .models import ApiClient, Role

# Every scope the platform knows; `apiclient create` refuses others.
SCOPES: dict[str, str] = {
    "subjects.read": "read the subject registry and credit files",
    "records.read": "read credit records and submissions",
    "records.ingest": "submit credit records",
    "jobs.read": "follow the progress of jobs",
    "credit.read": "read credit-risk classes and their explanations (supervision only)",
    "credit.evaluate": "start credit evaluation runs",
    "lists.read": "read list entries in every state, their history, objections and repairs",
    "lists.decide": "propose, notice, publish, withdraw and remove list entries; decide "
    "objections and credit-repair applications (the owning department's lists)",
    "lists.object": "file objections and credit-repair applications for a subject",
    "discipline.check": "check subjects before acting (lists in force, measures) and read "
    "the statistics of checks",
    "discipline.feedback": "record whether a measure returned by a check was applied",
    "supervision.read": "read inspection plans, draws, tasks, results, spot checks, incident "
    "reports and commitments",
    "supervision.plan": "create and draw inspection plans and spot-check plans, keep the "
    "inspector pool",
    "supervision.result": "enter inspection and spot-check results, triage incident reports "
    "(the own department's)",
    "supervision.report": "sign credit commitments and report quality incidents (an "
    "enterprise for its own subject)",
    "plan.read": "read the action plan: targets with their values, tasks, reports, registries, "
    "the assessment and supervision notices (reports and notices: own department's)",
    "plan.report": "file progress reports on the department's tasks and answer notices",
    "plan.review": "accept or return reports, confirm departments, import the plan, assess, "
    "issue notices and release progress (city-wide roles)",
    "plan.registry": "load files into the standards and brand registries",
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.PLATFORM_ADMIN: frozenset(SCOPES),
    Role.QUALITY_OFFICE: frozenset(SCOPES),
    Role.DATA_OFFICER: frozenset(
        {
            "subjects.read",
            "records.read",
            "records.ingest",
            "jobs.read",
            "credit.read",
            "lists.read",
            "lists.decide",
            "lists.object",
            "supervision.read",
            "supervision.plan",
            "supervision.result",
            "plan.read",
            "plan.report",
            "plan.registry",
        }
    ),
    Role.INSPECTOR: frozenset(
        {
            "subjects.read",
            "records.read",
            "jobs.read",
            "credit.read",
            "lists.read",
            "supervision.read",
            "supervision.result",
            "plan.read",
        }
    ),
    Role.ENTERPRISE: frozenset(
        {
            "subjects.read",
            "records.read",
            "jobs.read",
            "lists.read",
            "lists.object",
            "supervision.report",
        }
    ),
}


def role_scopes(role: str, *, superuser: bool = False) -> frozenset[str]:
    if superuser:
        return frozenset(SCOPES)
    return ROLE_SCOPES.get(role, frozenset())


def is_staff_actor(actor: Any) -> bool:
    """A signed-in user or an API client (not the anonymous public)."""
    return actor is not None and getattr(actor, "is_authenticated", False)


def has_scope(actor: Any, scope: str) -> bool:
    if not is_staff_actor(actor):
        return False
    if isinstance(actor, ApiClient):
        return actor.has_scope(scope)
    return scope in actor.scopes()


def require_scope(actor: Any, scope: str) -> None:
    """401 for the anonymous public, 403 for an actor without the scope."""
    if not is_staff_actor(actor):
        raise Unauthenticated("Authentication required.", details={"scope": scope})
    if not has_scope(actor, scope):
        raise PermissionDenied(
            f"This action needs the scope {scope}.", code="missing_scope", details={"scope": scope}
        )


def validate_scopes(scopes: list[str]) -> list[str]:
    from .errors import ValidationFailed

    unknown = [s for s in scopes if s not in SCOPES and not (s.endswith(".*") or s == "*")]
    if unknown:
        raise ValidationFailed(
            f"Unknown scope(s): {', '.join(unknown)}",
            code="unknown_scope",
            details={"unknown": unknown, "valid": sorted(SCOPES)},
        )
    return scopes
