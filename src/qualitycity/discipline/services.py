"""Writing for joint reward and punishment: checks (each one logged) and feedback.

``check_run`` answers one subject, ``check_batch_run`` up to ``BATCH_MAX`` subjects; both log every
check (``Check``, with one ``CheckHit`` per list in force) and return the answer with its
``check_id`` and the ``data_version`` it was made from. ``feedback_record`` records what the
department did with a measure a check returned.

Errors (``ApplicationError`` codes, stable): the identifier checks of a malformed code
(``bad_length``, ``bad_check``, …), ``unknown_scenario``, ``unknown_department``,
``department_mismatch``, ``date_in_future``, ``batch_empty``, ``batch_too_large``,
``check_not_found``, ``not_your_check``, ``measure_not_returned``, ``reason_required``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from qualitycity.core.errors import NotFound, PermissionDenied, ValidationFailed
from qualitycity.core.models import ApiClient, Department, User
from qualitycity.subjects.identifiers import IdentifierError, classify_code

from . import checklog, selectors
from .catalogue import catalogue
from .models import Check, Feedback

BATCH_MAX = 10_000


# --- who is checking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checker:
    """Who checks, for which department, from where."""

    department: Department
    api_client: ApiClient | None = None
    user: User | None = None
    source: str = Check.Source.API


def checker_for(actor: Any, department: str | None, *, source: str = Check.Source.API) -> Checker:
    """The checker for an actor naming a department (a department code or None).

    An API client checks for its own department (naming another is ``department_mismatch``); a
    data officer for theirs; city-wide users for any department they name (their own if any by
    default). An unknown code is ``unknown_department`` (400).
    """
    if isinstance(actor, ApiClient):
        own = actor.department
        if department is None or department == own.code:
            return Checker(department=own, api_client=actor, source=source)
        found = _department(department)
        raise PermissionDenied(
            "An API client checks for its own department.",
            code="department_mismatch",
            details={"department": found.code, "client_department": own.code},
        )
    user = actor if isinstance(actor, User) else None
    if department is None:
        if user is not None and user.department_id:
            return Checker(department=user.department, user=user, source=source)
        if user is not None:
            raise ValidationFailed(
                "Name the department the check is made for.",
                code="department_required",
                details={"field": "department"},
            )
        department = "credit_centre"  # operators on the command line act for the platform
    found = _department(department)
    if user is not None and not user.is_citywide and user.department_id != found.pk:
        raise PermissionDenied(
            "You may check only for your own department.",
            code="department_mismatch",
            details={"department": found.code},
        )
    return Checker(department=found, user=user, source=source)


def _department(code: str) -> Department:
    found = Department.objects.filter(code=code).first()
    if found is None:
        raise ValidationFailed(
            f"Unknown department: {code}",
            code="unknown_department",
            details={
                "field": "department",
                "valid": list(Department.objects.values_list("code", flat=True)),
            },
        )
    return found


# --- validation ---------------------------------------------------------------------------------


def validate_scenario(scenario: str) -> str:
    if scenario not in catalogue().scenarios:
        raise ValidationFailed(
            f"Unknown scenario: {scenario}",
            code="unknown_scenario",
            details={"field": "scenario", "valid": list(catalogue().scenarios)},
        )
    return scenario


def validate_day(on: dt.date | None) -> dt.date:
    today = timezone.localdate()
    if on is None:
        return today
    if on > today:
        raise ValidationFailed(
            "A check is about today or a day that has passed.",
            code="date_in_future",
            details={"field": "date", "date": on.isoformat(), "today": today.isoformat()},
        )
    return on


def normalise_code(code: Any) -> str:
    """The normalised subject code, or ``ValidationFailed`` with the identifier check's code."""
    try:
        return classify_code(code)[1]
    except IdentifierError as exc:
        raise ValidationFailed(
            exc.message, code=exc.code, details={"field": "subject", "check": exc.code}
        ) from exc


# --- the log ------------------------------------------------------------------------------------


def _log(
    checker: Checker,
    *,
    scenario: str,
    on: dt.date,
    version: str,
    answers: list[dict[str, Any]],
    looked: list[selectors.Looked],
    batch: bool,
) -> list[int]:
    """Log one ``Check`` per answer (``checklog``); the ids in order."""
    rows, hits = checklog.rows_for(
        checker=checker,
        scenario=scenario,
        on=on,
        version=version,
        answers=answers,
        codes=[lk.code for lk in looked],
        subject_ids=[lk.subject_id for lk in looked],
        batch=batch,
    )
    return checklog.write(rows, hits)


# --- checks -------------------------------------------------------------------------------------


def check_run(
    *, checker: Checker, code: Any, scenario: str, on: dt.date | None = None
) -> dict[str, Any]:
    """Check one subject for a scenario on a day (today by default) and log the check.

    Returns ``{"subject", "registered", "status", "lists", "measures", "scenario", "date",
    "department", "data_version", "check_id"}``; ``status`` is ``listed``, ``clean`` or
    ``not_registered`` (a valid code nobody registered: not the same as clean).
    """
    normalised = normalise_code(code)
    validate_scenario(scenario)
    day = validate_day(on)
    looked, version = selectors.lookup_one(normalised, day)
    ans = selectors.answer(looked, scenario=scenario, on=day)
    [check_id] = _log(
        checker,
        scenario=scenario,
        on=day,
        version=version,
        answers=[ans],
        looked=[looked],
        batch=False,
    )
    ans.update(
        scenario=scenario,
        date=day.isoformat(),
        department=checker.department.code,
        data_version=version,
        check_id=check_id,
    )
    return ans


def check_batch_run(
    *, checker: Checker, codes: list[Any], scenario: str, on: dt.date | None = None
) -> dict[str, Any]:
    """Check up to ``BATCH_MAX`` subjects at once; one answer (and one logged check) per
    subject, in the order given. A malformed code gets ``status: "invalid"`` with its error and
    no check; the batch itself fails only on a bad scenario, department, date or size."""
    validate_scenario(scenario)
    day = validate_day(on)
    if not codes:
        raise ValidationFailed("Give at least one subject.", code="batch_empty")
    if len(codes) > BATCH_MAX:
        raise ValidationFailed(
            f"A batch takes at most {BATCH_MAX:,} subjects.",
            code="batch_too_large",
            details={"max": BATCH_MAX, "given": len(codes)},
        )
    normalised: list[str | IdentifierError] = []
    for code in codes:
        try:
            normalised.append(classify_code(code)[1])
        except IdentifierError as exc:
            normalised.append(exc)
    valid = [c for c in normalised if isinstance(c, str)]
    found, version = selectors.lookup_many(valid, day)
    answers: list[dict[str, Any]] = []
    logged: list[tuple[dict[str, Any], selectors.Looked]] = []
    for raw, code in zip(codes, normalised, strict=True):
        if isinstance(code, IdentifierError):
            answers.append(
                {
                    "subject": raw if isinstance(raw, str) else str(raw),
                    "registered": False,
                    "status": selectors.STATUS_INVALID,
                    "error": {"code": code.code, "message": code.message},
                    "lists": [],
                    "measures": [],
                    "check_id": None,
                }
            )
            continue
        ans = selectors.answer(found[code], scenario=scenario, on=day)
        answers.append(ans)
        logged.append((ans, found[code]))
    ids = _log(  # one transaction (checklog.write)
        checker,
        scenario=scenario,
        on=day,
        version=version,
        answers=[a for a, _ in logged],
        looked=[lk for _, lk in logged],
        batch=True,
    )
    for (ans, _), check_id in zip(logged, ids, strict=True):
        ans["check_id"] = check_id
    return {
        "scenario": scenario,
        "date": day.isoformat(),
        "department": checker.department.code,
        "data_version": version,
        "count": len(answers),
        "results": answers,
    }


# --- feedback -----------------------------------------------------------------------------------


def _may_give_feedback(actor: Any, check: Check) -> bool:
    if isinstance(actor, ApiClient):
        return check.api_client_id == actor.pk or check.department_id == actor.department_id
    if isinstance(actor, User):
        if check.user_id is not None and check.user_id == actor.pk:
            return True
        return bool(actor.department_id) and actor.department_id == check.department_id
    return False


def feedback_record(
    *, actor: Any, check_id: int, measure_id: str, applied: bool, reason: str = ""
) -> tuple[Feedback, bool]:
    """Record whether the department applied a measure a check returned (and why not).

    Only the client or user that made the check, or its department, may; a second answer for
    the same measure corrects the first (the change log keeps both). Returns the feedback and
    whether it was created.
    """
    check = Check.objects.filter(pk=check_id).first()
    if check is None:
        raise NotFound("No such check.", code="check_not_found", details={"check_id": check_id})
    if not _may_give_feedback(actor, check):
        raise PermissionDenied(
            "Only the department that made the check records what it did.",
            code="not_your_check",
            details={"check_id": check_id},
        )
    if measure_id not in (check.measures or []):
        raise ValidationFailed(
            "The check did not return this measure.",
            code="measure_not_returned",
            details={"field": "measure_id", "returned": check.measures},
        )
    reason = (reason or "").strip()
    if not applied and not reason:
        raise ValidationFailed(
            "Say why the measure was not applied.",
            code="reason_required",
            details={"field": "reason"},
        )
    measure = catalogue().get(measure_id, check.day) or catalogue().get(measure_id)
    with transaction.atomic():
        existing = Feedback.objects.select_for_update().filter(
            check_ref=check, measure_id=measure_id
        )
        feedback = existing.first()
        created = feedback is None
        if created:
            feedback = Feedback(check_ref=check, measure_id=measure_id)
        feedback.measure_kind = measure.kind if measure else ""
        feedback.applied = applied
        feedback.reason = reason
        feedback.department_id = check.department_id
        feedback.api_client = actor if isinstance(actor, ApiClient) else None
        feedback.user = actor if isinstance(actor, User) else None
        feedback.full_clean(validate_unique=False, validate_constraints=False)
        feedback.save()
    return feedback, created
