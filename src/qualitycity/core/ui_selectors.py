"""Reads of the core app for the UI shell: jobs and the change log, always scoped to the actor."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from .errors import NotFound, PermissionDenied
from .models import ApiClient, Job, ObjectChange, Role


def job_list(*, user: Any, status: str | None = None) -> models.QuerySet:
    """Jobs the user may see (``Job.restrict``), newest first, optionally of one status."""
    qs = Job.objects.restrict(user).select_related("created_by", "department", "api_client")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at")


def job_get(*, user: Any, job_id: Any) -> Job:
    """One job the user may see; another department's job is "not found", not "forbidden"."""
    job = job_list(user=user).filter(pk=job_id).first()
    if job is None:
        raise NotFound("No such job.", code="job_not_found")
    return job


def job_counts(*, user: Any, since: dt.timedelta = dt.timedelta(days=1)) -> dict[str, int]:
    """Jobs running and queued now, and finished (succeeded/failed) within ``since``."""
    qs = Job.objects.restrict(user)
    recent = timezone.now() - since
    return qs.aggregate(
        running=Count("pk", filter=Q(status=Job.Status.RUNNING)),
        queued=Count("pk", filter=Q(status=Job.Status.QUEUED)),
        succeeded=Count("pk", filter=Q(status=Job.Status.SUCCEEDED, finished_at__gte=recent)),
        failed=Count("pk", filter=Q(status=Job.Status.FAILED, finished_at__gte=recent)),
    )


def outcome_rows(outcome: Any, prefix: str = "") -> list[tuple[str, Any, bool]]:
    """Flatten a job's outcome JSON into ``(key, value, is_block)`` rows for a table.

    Nested objects become dotted keys (``reasons.bad_check_digit``); lists of plain values are
    joined; multi-line strings (a traceback) are flagged to be shown as a block.
    """
    if outcome is None:
        return []
    if not isinstance(outcome, dict):
        return [(prefix or "value", _plain(outcome), _is_block(outcome))]
    rows: list[tuple[str, Any, bool]] = []
    for key, value in outcome.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            rows.extend(outcome_rows(value, name))
        else:
            rows.append((name, _plain(value), _is_block(value)))
    return rows


def _plain(value: Any) -> Any:
    import json

    if isinstance(value, list):
        if all(not isinstance(v, dict | list) for v in value):
            return ", ".join(str(v) for v in value)
        return json.dumps(value, ensure_ascii=False, indent=1)
    if isinstance(value, dict):
        return "{}"
    return value


def _is_block(value: Any) -> bool:
    return (isinstance(value, str) and "\n" in value) or (
        isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    )


# --- change log -----------------------------------------------------------------------------


def _department_of(model: type[models.Model], object_id: str) -> Any:
    """The department an object belongs to, from the object or (once deleted) its last change."""
    if not any(f.attname == "department_id" for f in model._meta.concrete_fields):
        return None
    try:
        object_id = model._meta.pk.to_python(object_id)
    except Exception:  # not a valid key of this model: no such object
        return None
    obj = model._default_manager.filter(pk=object_id).only("pk", "department_id").first()
    if obj is not None:
        return obj.department_id
    ct = ContentType.objects.get_for_model(model)
    last = ObjectChange.objects.filter(content_type=ct, object_id=str(object_id)).first()
    if last is None:
        return None
    data = last.postchange_data or last.prechange_data or {}
    return data.get("department_id")


def changelog_allowed(*, user: Any, model: type[models.Model], object_id: Any) -> bool:
    """City-wide roles see every change log; a department's data officers see the change log of
    objects that belong to their department (those with a ``department_id``)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if isinstance(user, ApiClient):
        return False
    if user.is_citywide:
        return True
    if user.role != Role.DATA_OFFICER or not user.department_id:
        return False
    dept = _department_of(model, str(object_id))
    return dept is not None and dept == user.department_id


def changelog_model(*, app_label: str, model_name: str) -> type[models.Model]:
    try:
        return apps.get_model(app_label, model_name)
    except LookupError as exc:
        raise NotFound("No such kind of object.", code="unknown_model") from exc


def object_changes(
    *,
    user: Any,
    obj: models.Model | None = None,
    model: type[models.Model] | None = None,
    object_id: Any = None,
) -> models.QuerySet:
    """The change log of one object (also after it was deleted), newest first.

    Pass ``obj``, or ``model`` and ``object_id``. Raises ``PermissionDenied`` for users who may
    not see it (see ``changelog_allowed``).
    """
    if obj is not None:
        model, object_id = type(obj), obj.pk
    if model is None or object_id is None:
        raise ValueError("object_changes needs obj, or model and object_id")
    if not changelog_allowed(user=user, model=model, object_id=object_id):
        raise PermissionDenied("You may not see this change log.", code="changelog_forbidden")
    ct = ContentType.objects.get_for_model(model, for_concrete_model=False)
    return (
        ObjectChange.objects.filter(content_type=ct, object_id=str(object_id))
        .select_related("user", "api_client", "content_type")
        .order_by("-time", "-id")
    )


def change_list(
    *, user: Any, app_label: str = "", model_name: str = "", action: str = ""
) -> models.QuerySet:
    """Every change the user may see (city-wide roles: all; others: none), newest first."""
    qs = ObjectChange.objects.restrict(user).select_related("user", "api_client", "content_type")
    if app_label:
        qs = qs.filter(content_type__app_label=app_label)
    if model_name:
        qs = qs.filter(content_type__model=model_name.lower())
    if action:
        qs = qs.filter(action=action)
    return qs.order_by("-time", "-id")
