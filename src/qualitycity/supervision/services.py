"""Supervision writes: commitments, inspectors, plans and draws, results, spot checks, incidents.

Every write that makes credit information goes through the records app's ingestion
(:func:`_store_records`): a small CSV submission of the department concerned, kept with its
SHA-256 like any other, so the records appear in credit files, on the portal and in evaluation.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import secrets
import tempfile
import time
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from qualitycity.core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from qualitycity.core.jobs import job_create, job_enqueue, job_kind
from qualitycity.core.models import ApiClient, Department, Job, Role
from qualitycity.core.permissions import require_scope
from qualitycity.core.schedule import daily
from qualitycity.core.yamllines import YamlLineError, load
from qualitycity.records.catalogue import get_dataset
from qualitycity.records.models import Record
from qualitycity.records.workdays import calendar
from qualitycity.subjects.models import Subject

from . import draw as drawing
from .models import (
    Commitment,
    ConflictOfInterest,
    DrawAttempt,
    IncidentEvent,
    IncidentReport,
    InspectionPlan,
    InspectionResult,
    InspectionTask,
    Inspector,
    PlanItem,
    Sample,
    SpotCheckPlan,
    TaskAssignment,
)

CONFIG_DIR = Path(__file__).parent / "config"


class ConfigError(Exception):
    pass


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def _load_yaml(path: Path) -> Any:
    try:
        return load(path.read_text(encoding="utf-8"))
    except YamlLineError as exc:
        raise ConfigError(f"{path}:{exc.line or '?'}: {exc.message}") from exc


def _check_ratios(ratios: dict[str, Any], where: str = "ratios") -> dict[str, str]:
    """Percentages 0–100 for each class A–D, as canonical text; ValidationFailed otherwise."""
    out = {}
    for cls in drawing.CLASSES:
        if cls not in ratios or ratios[cls] in (None, ""):
            raise ValidationFailed(
                f"The sampling ratio of class {cls} is missing.",
                code="bad_ratio",
                details={"class": cls, "where": where},
            )
        raw = ratios[cls]
        try:
            value = Decimal(str(raw).strip().rstrip("%"))
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or value < 0 or value > 100:
            raise ValidationFailed(
                f"The sampling ratio of class {cls} must be a percentage from 0 to 100, "
                f"not {raw!r}.",
                code="bad_ratio",
                details={"class": cls, "value": str(raw), "where": where},
            )
        out[cls] = format(value.normalize(), "f")
    unknown = sorted(set(ratios) - set(drawing.CLASSES))
    if unknown:
        raise ValidationFailed(
            f"Unknown credit class(es): {', '.join(unknown)} (A–D).",
            code="bad_ratio",
            details={"unknown": unknown},
        )
    return out


@functools.cache
def settings_config() -> dict[str, Any]:
    path = CONFIG_DIR / "supervision.yaml"
    data = _load_yaml(path)
    try:
        ratios = _check_ratios(dict(data["sampling_ratios"]))
    except ValidationFailed as exc:
        raise ConfigError(f"{path}:{data.key_lines.get('sampling_ratios')}: {exc.message}") from exc
    out = dict(data)
    out["sampling_ratios"] = ratios
    if out["default_class"] not in drawing.CLASSES:
        raise ConfigError(f"{path}:{data.key_lines['default_class']}: default_class must be A–D")
    return out


@dataclass(frozen=True)
class Template:
    code: str
    name_zh: str
    name_en: str
    business_type: str
    department: str
    period_months: int
    scope: tuple[str, ...]
    text_zh: str
    text_en: str

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") else self.name_zh

    @property
    def text(self) -> str:
        from django.utils.translation import get_language

        return self.text_en if (get_language() or "").startswith("en") else self.text_zh


@functools.cache
def commitment_templates() -> dict[str, Template]:
    path = CONFIG_DIR / "commitments.yaml"
    out: dict[str, Template] = {}
    for entry in _load_yaml(path):
        where = f"{path}:{entry.line}"
        try:
            t = Template(
                code=entry["code"],
                name_zh=entry["name_zh"],
                name_en=entry["name_en"],
                business_type=entry["business_type"],
                department=entry["department"],
                period_months=int(entry["period_months"]),
                scope=tuple(entry["scope"]),
                text_zh=entry["text_zh"],
                text_en=entry["text_en"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"{where}: bad commitment template ({exc})") from exc
        for ds in t.scope:
            try:
                get_dataset(ds)
            except ApplicationError as exc:
                raise ConfigError(f"{where}: unknown dataset in scope: {ds}") from exc
        if not get_dataset("credit_commitment").allowed(t.department):
            raise ConfigError(f"{where}: department {t.department} may not store commitments")
        if t.code in out:
            raise ConfigError(f"{where}: duplicate template {t.code}")
        out[t.code] = t
    return out


def template_get(code: str) -> Template:
    try:
        return commitment_templates()[code]
    except KeyError:
        raise NotFound(
            f"No commitment template {code!r}.",
            code="unknown_template",
            details={"template": code, "known": sorted(commitment_templates())},
        ) from None


# --------------------------------------------------------------------------------------------
# Actors
# --------------------------------------------------------------------------------------------


def _check_scope(actor: Any, scope: str) -> None:
    """The command line (no actor) acts as the operator; everyone else needs the scope."""
    if actor is not None:
        require_scope(actor, scope)


def _user(actor: Any) -> Any:
    return actor if actor is not None and not isinstance(actor, ApiClient) else None


def actor_department(actor: Any) -> Department | None:
    """The department an actor works for: an inspector's, an officer's or an API client's."""
    if actor is None:
        return None
    inspector = getattr(actor, "inspector", None) if not isinstance(actor, ApiClient) else None
    if inspector is not None:
        return inspector.department
    return getattr(actor, "department", None)


def _check_own_department(actor: Any, department_id: int) -> None:
    """City-wide roles and the command line act for any department; others for their own."""
    if actor is None or actor.is_citywide:
        return
    own = actor_department(actor)
    if own is None or own.pk != department_id:
        raise PermissionDenied("This belongs to another department.", code="forbidden_department")


def _bound_subject(actor: Any, subject: Subject | None) -> Subject:
    """The subject an enterprise user acts for; staff (or the CLI) name the subject."""
    if actor is not None and getattr(actor, "role", None) == Role.ENTERPRISE:
        binding = getattr(actor, "enterprise_binding", None)
        if binding is None:
            raise PermissionDenied(
                "This enterprise user is not bound to any subject.", code="not_bound"
            )
        if subject is not None and subject.pk != binding.subject_id:
            raise PermissionDenied(
                "You may act only for the subject your account is bound to.",
                code="not_your_subject",
                details={"subject": subject.code},
            )
        return binding.subject
    if subject is None:
        raise ValidationFailed("Name the subject.", code="subject_required")
    return subject


def _channel(actor: Any) -> str:
    if actor is None:
        return "cli"
    return "api" if isinstance(actor, ApiClient) else "web"


# --------------------------------------------------------------------------------------------
# Credit records through ingestion
# --------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _store_records(
    *, dataset: str, department: Department, rows: list[dict[str, Any]], actor: Any, name: str
) -> dict[str, Record]:
    """Submit ``rows`` as one CSV file of ``department``; return the stored records by id.

    Any row not stored (rejected by validation) raises ``ValidationFailed``
    (``record_rejected``) with the reasons: the caller's transaction is rolled back.
    """
    from qualitycity.records.models import QuarantinedRow
    from qualitycity.records.services import ingest_file

    ds = get_dataset(dataset)
    names = [f.name for f in ds.fields]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            for row in rows:
                writer.writerow([_cell(row.get(n)) for n in names])
        result = ingest_file(
            path=path,
            department=department,
            dataset=dataset,
            actor=actor,
            channel=_channel(actor),
            original_name=name,
        )
    if result.refused or result.rejected:
        reasons = list(
            QuarantinedRow.objects.filter(source_file_id=result.submission_id).values_list(
                "reasons", flat=True
            )
        )
        raise ValidationFailed(
            f"The {dataset} record was not accepted: {result.refusal_message or result.reasons}.",
            code="record_rejected",
            details={"reasons": reasons or result.reasons, "refusal": result.refusal_code},
        )
    rid_field = ds.keys["record_id"]
    ids = [str(r[rid_field]) for r in rows]
    return {
        r.source_record_id: r
        for r in Record.objects.filter(
            department=department, dataset=dataset, source_record_id__in=ids
        )
    }


def _add_months(day: dt.date, months: int) -> dt.date:
    import calendar as cal

    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    return dt.date(year, month, min(day.day, cal.monthrange(year, month)[1]))


# --------------------------------------------------------------------------------------------
# Credit commitments
# --------------------------------------------------------------------------------------------


def _commitment_row(c: Commitment) -> dict[str, Any]:
    return {
        "subject_name": c.subject.name,
        "subject_code": c.subject.code,
        "commitment_no": c.number,
        "template": c.template,
        "signed_on": c.signed_on,
        "valid_until": c.valid_until,
        "status": c.status,
        "broken_on": c.broken_on,
        "breaking_record": (
            f"{c.breaking_record.dataset}:{c.breaking_record.source_record_id}"
            if c.breaking_record_id
            else ""
        ),
    }


@transaction.atomic
def commitment_sign(
    *,
    actor: Any,
    template: str,
    subject: Subject | None = None,
    signed_on: dt.date | None = None,
) -> Commitment:
    """An enterprise user signs a commitment for its own subject; it becomes a credit record."""
    _check_scope(actor, "supervision.report")
    t = template_get(template)
    subject = _bound_subject(actor, subject)
    today = timezone.localdate()
    signed_on = signed_on or today
    if signed_on > today:
        raise ValidationFailed("A commitment cannot be signed in the future.", code="future_date")
    if Commitment.objects.filter(
        subject=subject, template=t.code, status=Commitment.Status.IN_FORCE, signed_on=signed_on
    ).exists():
        raise Conflict("This subject signed this commitment today already.", code="already_signed")
    department = Department.objects.get(code=t.department)
    c = Commitment(
        number=f"CN{signed_on:%Y%m%d}{secrets.token_hex(4).upper()}",
        template=t.code,
        subject=subject,
        department=department,
        text=t.text_zh,
        scope=list(t.scope),
        signed_on=signed_on,
        valid_until=_add_months(signed_on, t.period_months),
        signed_by=_user(actor),
    )
    c.save()
    records = _store_records(
        dataset="credit_commitment",
        department=department,
        rows=[_commitment_row(c)],
        actor=actor,
        name=f"credit_commitment-{c.number}.csv",
    )
    c.record = records[c.number]
    c.save()
    return c


def commitments_check(*, on: dt.date | None = None) -> dict[str, int]:
    """Mark commitments broken by a later negative record of their scope within their period
    (decided after the signing day: a decision of the signing day may predate the signature);
    end those whose period has passed. Each break updates the commitment's credit record
    (status ``broken``: a negative record the scorecards can count). Idempotent."""
    on = on or timezone.localdate()
    broken = ended = 0
    in_force = list(
        Commitment.objects.filter(status=Commitment.Status.IN_FORCE).select_related(
            "subject", "department", "record"
        )
    )
    negatives = _negative_records_after(in_force, on)
    for c in in_force:
        hit = next(
            (
                r
                for r in negatives.get(c.subject_id, ())
                if r.dataset in c.scope and c.signed_on < r.decision_date <= c.valid_until
            ),
            None,
        )
        with transaction.atomic():
            if hit is not None:
                c.status, c.broken_on, c.breaking_record = (
                    Commitment.Status.BROKEN,
                    hit.decision_date,
                    hit,
                )
                broken += 1
            elif c.valid_until < on:
                c.status = Commitment.Status.ENDED
                ended += 1
            else:
                continue
            c.save()
            row = _commitment_row(c)
            row["version"] = (c.record.version + 1) if c.record else 1
            records = _store_records(
                dataset="credit_commitment",
                department=c.department,
                rows=[row],
                actor=None,
                name=f"credit_commitment-{c.number}-{c.status}.csv",
            )
            c.record = records[c.number]
            c.save()
    return {"broken": broken, "ended": ended}


def _negative_records_after(commitments: list[Commitment], on: dt.date) -> dict[int, list[Record]]:
    """The negative records that could break ``commitments`` (their subjects and scopes,
    decided after the earliest signing day, by ``on``), per subject in decision order: one query
    per 500 subjects instead of one per commitment."""
    if not commitments:
        return {}
    subject_ids = sorted({c.subject_id for c in commitments})
    scope = sorted({d for c in commitments for d in c.scope})
    earliest = min(c.signed_on for c in commitments)
    out: dict[int, list[Record]] = {}
    for start in range(0, len(subject_ids), 500):
        for r in Record.objects.filter(
            subject_id__in=subject_ids[start : start + 500],
            dataset__in=scope,
            polarity=Record.Polarity.NEGATIVE,
            decision_date__gt=earliest,
            decision_date__lte=on,
        ).order_by("decision_date", "id"):
            out.setdefault(r.subject_id, []).append(r)
    return out


# --------------------------------------------------------------------------------------------
# Inspectors
# --------------------------------------------------------------------------------------------


@transaction.atomic
def inspector_create(
    *,
    actor: Any,
    badge_no: str,
    name: str,
    department: Department,
    qualifications: list[str] | None = None,
    district: str = "",
    user: Any = None,
) -> Inspector:
    _check_scope(actor, "supervision.plan")
    _check_own_department(actor, department.pk)
    if not badge_no.strip() or not name.strip():
        raise ValidationFailed("Give the badge number and the name.", code="details_required")
    if user is not None and user.role != Role.INSPECTOR:
        raise ValidationFailed(
            "Only a user with the inspector role can be linked to an inspector.",
            code="not_an_inspector",
        )
    if Inspector.objects.filter(badge_no=badge_no).exists():
        raise Conflict(f"An inspector with badge {badge_no} exists.", code="duplicate_badge")
    i = Inspector(
        badge_no=badge_no,
        name=name,
        department=department,
        qualifications=sorted(set(qualifications or [])),
        district=district,
        user=user,
    )
    i.save()
    return i


def conflict_declare(
    *, actor: Any, inspector: Inspector, subject: Subject, reason: str
) -> ConflictOfInterest:
    _check_scope(actor, "supervision.plan")
    _check_own_department(actor, inspector.department_id)
    if not reason.strip():
        raise ValidationFailed("Give the reason of the conflict.", code="reason_required")
    c, _ = ConflictOfInterest.objects.get_or_create(
        inspector=inspector, subject=subject, defaults={"reason": reason}
    )
    return c


# --------------------------------------------------------------------------------------------
# Inspection plans
# --------------------------------------------------------------------------------------------


@transaction.atomic
def plan_create(
    *,
    actor: Any,
    name: str,
    items: list[dict[str, Any]],
    year: int | None = None,
    ratios: dict[str, Any] | None = None,
    default_class: str | None = None,
    filters: dict[str, Any] | None = None,
    min_inspectors: int | None = None,
    avoid_home_district: bool = False,
) -> InspectionPlan:
    """A plan of one or several departments (several: a joint inspection).

    ``items``: ``[{"department": code, "matter": text, "qualification": code or ""}]``.
    """
    _check_scope(actor, "supervision.plan")
    cfg = settings_config()
    if not name.strip():
        raise ValidationFailed("Name the plan.", code="name_required")
    ratios = _check_ratios(ratios if ratios is not None else cfg["sampling_ratios"])
    default_class = default_class or cfg["default_class"]
    if default_class not in drawing.CLASSES:
        raise ValidationFailed(
            f"The default class must be A, B, C or D, not {default_class!r}.",
            code="bad_default_class",
        )
    min_inspectors = int(min_inspectors if min_inspectors is not None else cfg["min_inspectors"])
    if min_inspectors < 2:
        raise ValidationFailed(
            "Inspections are carried out by at least two inspectors.",
            code="too_few_inspectors",
            details={"min_inspectors": min_inspectors},
        )
    if not items:
        raise ValidationFailed("A plan needs at least one department's matter.", code="no_items")
    ds = get_dataset("inspection_result")
    seen: set[str] = set()
    departments = {}
    for it in items:
        code = it.get("department", "")
        dept = Department.objects.filter(code=code).first()
        if dept is None:
            raise ValidationFailed(f"Unknown department {code!r}.", code="unknown_department")
        if not ds.allowed(code):
            raise ValidationFailed(
                f"Department {code} does not publish inspection results.",
                code="department_not_allowed",
                details={"allowed": list(ds.departments)},
            )
        if code in seen:
            raise ValidationFailed(
                f"Department {code} appears twice: give it one matter.", code="duplicate_department"
            )
        if not str(it.get("matter", "")).strip():
            raise ValidationFailed(
                f"Department {code}: name the inspection matter.", code="matter_required"
            )
        seen.add(code)
        departments[code] = dept
    dept = actor_department(actor)
    if actor is not None and not actor.is_citywide and (dept is None or dept.code not in seen):
        raise PermissionDenied(
            "A department may plan only inspections it takes part in.",
            code="forbidden_department",
        )
    filters = _clean_filters(filters or {})
    plan = InspectionPlan(
        name=name.strip(),
        year=year or timezone.localdate().year,
        ratios=ratios,
        default_class=default_class,
        filters=filters,
        min_inspectors=min_inspectors,
        avoid_home_district=avoid_home_district,
        created_by=_user(actor),
    )
    plan.save()
    for it in items:
        PlanItem.objects.create(
            plan=plan,
            department=departments[it["department"]],
            matter=str(it["matter"]).strip(),
            qualification=str(it.get("qualification") or "").strip(),
        )
    return plan


def _clean_filters(f: dict[str, Any]) -> dict[str, Any]:
    from qualitycity.subjects.codelists import SUBJECT_STATUSES

    out: dict[str, Any] = {}
    for key in ("industries", "districts", "statuses"):
        values = f.get(key) or []
        if isinstance(values, str):
            values = [v.strip() for v in values.replace("，", ",").split(",") if v.strip()]
        out[key] = sorted({str(v) for v in values})
    bad = [s for s in out["statuses"] if s not in SUBJECT_STATUSES]
    if bad:
        raise ValidationFailed(f"Unknown subject status(es): {', '.join(bad)}.", code="bad_filter")
    if not out["statuses"]:
        out["statuses"] = ["active"]
    out["licence"] = str(f.get("licence") or "").strip()
    return out


def _subject_pool_query(plan: InspectionPlan):
    f = plan.filters or {}
    qs = Subject.objects.filter(kind=Subject.Kind.LEGAL, status__in=f.get("statuses") or ["active"])
    if f.get("industries"):
        qs = qs.filter(industry__in=f["industries"])
    if f.get("districts"):
        qs = qs.filter(district__in=f["districts"])
    if f.get("licence"):
        holders = Record.objects.filter(
            dataset="admin_licence", data__licence_name__icontains=f["licence"]
        ).values("subject_id")
        qs = qs.filter(pk__in=holders)
    return qs


def _latest_class_run():
    from qualitycity.credit.models import EvaluationRun

    return EvaluationRun.objects.filter(status=EvaluationRun.Status.DONE).order_by("-id").first()


def build_pools(
    plan: InspectionPlan,
) -> tuple[list[drawing.PoolSubject], list[drawing.PoolInspector], Any]:
    """Read both pools: one query for the subjects, one for the classes of the latest run."""
    from qualitycity.credit.models import EvaluationResult

    run = _latest_class_run()
    sql, params = (
        _subject_pool_query(plan).order_by().values_list("id", "district").query.sql_with_params()
    )
    if run is not None:
        # One query: the pool joined to the classes of the latest run (unique on run, subject).
        sql = (
            f"SELECT p.id, p.district, r.risk_class FROM ({sql}) p "  # noqa: S608
            f"LEFT JOIN {EvaluationResult._meta.db_table} r "
            "ON r.run_id = %s AND r.subject_id = p.id"
        )
        params = (*params, run.pk)
    else:
        sql = f"SELECT p.id, p.district, NULL FROM ({sql}) p"  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    # The inspectors of each subject's last inspection carried out (a task with a result).
    last: dict[int, tuple[int, set[int]]] = {}
    done = InspectionTask.objects.filter(status=InspectionTask.Status.DONE).exclude(plan=plan)
    for subject_id, task_id, inspector_id in (
        TaskAssignment.objects.filter(task__in=done)
        .order_by()
        .values_list("task__subject_id", "task_id", "inspector_id")
    ):
        cur = last.get(subject_id)
        if cur is None or task_id > cur[0]:
            last[subject_id] = (task_id, {inspector_id})
        elif task_id == cur[0]:
            cur[1].add(inspector_id)
    default = plan.default_class
    subjects = [
        (sid, cls or default, district or "", tuple(sorted(last[sid][1])) if sid in last else ())
        for sid, district, cls in rows
    ]
    departments = list(plan.items.values_list("department_id", flat=True))
    conflicts: dict[int, set[int]] = defaultdict(set)
    for iid, sid in ConflictOfInterest.objects.filter(
        inspector__department_id__in=departments
    ).values_list("inspector_id", "subject_id"):
        conflicts[iid].add(sid)
    inspectors = [
        drawing.PoolInspector(
            iid, dept, district or "", tuple(sorted(quals or [])), frozenset(conflicts[iid])
        )
        for iid, dept, district, quals in Inspector.objects.filter(
            active=True, department_id__in=departments
        )
        .order_by("id")
        .values_list("id", "department__code", "district", "qualifications")
    ]
    return subjects, inspectors, run


def plan_parameters(plan: InspectionPlan) -> drawing.Parameters:
    return drawing.Parameters(
        ratios=dict(plan.ratios),
        items=tuple(
            drawing.Item(code, q)
            for code, q in plan.items.order_by("department__code").values_list(
                "department__code", "qualification"
            )
        ),
        min_inspectors=plan.min_inspectors,
        avoid_home_district=plan.avoid_home_district,
    )


def _insert_tasks(attempt: DrawAttempt, outcome: drawing.Outcome) -> None:
    """Bulk-insert the tasks, then their assignments (tasks are found again by number)."""
    task_table = InspectionTask._meta.db_table
    assign_table = TaskAssignment._meta.db_table
    rows = [
        (
            attempt.pk,
            attempt.plan_id,
            n,
            t.subject,
            t.risk_class,
            InspectionTask.Status.ASSIGNED if t.inspectors else InspectionTask.Status.UNSTAFFED,
            t.reason,
        )
        for n, t in enumerate(outcome.tasks, start=1)
    ]
    with connection.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {task_table} (draw_id, plan_id, number, subject_id, risk_class, "  # noqa: S608
            "status, unstaffed_reason) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        ids = dict(
            InspectionTask.objects.filter(draw=attempt).order_by().values_list("number", "id")
        )
        assignments = [
            (ids[n], inspector, pos)
            for n, t in enumerate(outcome.tasks, start=1)
            for pos, inspector in enumerate(t.inspectors, start=1)
        ]
        cur.executemany(
            f"INSERT INTO {assign_table} (task_id, inspector_id, position) "  # noqa: S608
            "VALUES (%s, %s, %s)",
            assignments,
        )


@transaction.atomic
def plan_draw(
    *, plan: InspectionPlan, actor: Any, reason: str = "", seed: int | None = None
) -> DrawAttempt:
    """Draw the plan: objects by class, inspectors per task. Every draw is recorded.

    A plan drawn already is drawn again only with a reason (the earlier draw stays, with its
    tasks), and never once a result was entered for it.
    """
    _check_scope(actor, "supervision.plan")
    plan = InspectionPlan.objects.select_for_update().get(pk=plan.pk)
    _check_plan_department(plan, actor)
    if plan.status == InspectionPlan.Status.CLOSED:
        raise Conflict("The plan is closed.", code="plan_closed")
    previous = plan.current_draw
    if previous is not None:
        if not reason.strip():
            raise ValidationFailed(
                "This plan was drawn already: a new draw needs a reason, and both are kept.",
                code="reason_required",
                details={"draw": previous.number},
            )
        if InspectionResult.objects.filter(task__draw=previous).exists():
            raise Conflict(
                "Results were entered for the current draw: it cannot be drawn again.",
                code="results_entered",
            )
    started = time.perf_counter()
    subjects, inspectors, run = build_pools(plan)
    params = plan_parameters(plan)
    seed = seed if seed is not None else secrets.randbits(128)
    outcome = drawing.draw(seed, subjects, inspectors, params)
    sbytes = drawing.subjects_bytes(subjects)
    ibytes = drawing.inspectors_bytes(inspectors)
    number = (plan.draws.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    attempt = DrawAttempt.objects.create(
        plan=plan,
        number=number,
        seed=f"{seed:x}",
        algorithm=drawing.ALGORITHM,
        parameters=params.as_dict(),
        class_run=run,
        subjects_digest=drawing.digest(sbytes),
        inspectors_digest=drawing.digest(ibytes),
        subjects_snapshot=zlib.compress(sbytes, 1),
        inspectors_snapshot=zlib.compress(ibytes, 6),
        pool_size=len(subjects),
        inspector_count=len(inspectors),
        task_count=len(outcome.tasks),
        unstaffed=[
            {"task": n, "subject": t.subject, "reason": t.reason}
            for n, t in enumerate(outcome.tasks, start=1)
            if not t.inspectors
        ],
        class_counts=outcome.class_counts,
        reason=reason.strip(),
        drawn_by=_user(actor),
        drawn_at=timezone.now(),
    )
    _insert_tasks(attempt, outcome)
    attempt.seconds = round(time.perf_counter() - started, 3)
    DrawAttempt.objects.filter(pk=attempt.pk).update(seconds=attempt.seconds)
    plan.current_draw = attempt
    plan.status = InspectionPlan.Status.DRAWN
    plan.save()
    return attempt


def _check_plan_department(plan: InspectionPlan, actor: Any) -> None:
    if actor is None or actor.is_citywide:
        return
    dept = actor_department(actor)
    if dept is None or not plan.items.filter(department=dept).exists():
        raise PermissionDenied(
            "This plan is not one your department takes part in.", code="forbidden_department"
        )


# --- verification -----------------------------------------------------------------------------


@dataclass
class Verification:
    plan: int
    draw: int
    ok: bool = True
    problems: list[dict[str, Any]] = field(default_factory=list)
    tasks: int = 0

    def add(self, kind: str, message: str, **details: Any) -> None:
        self.ok = False
        self.problems.append({"kind": kind, "message": message, **details})

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "draw": self.draw,
            "reproduced": self.ok,
            "tasks": self.tasks,
            "problems": self.problems,
        }


MAX_PROBLEMS = 20


def draw_verify(*, attempt: DrawAttempt) -> Verification:
    """Re-run a stored draw from its seed, parameters and pool snapshots; compare.

    Problems: ``subject_pool_digest`` / ``inspector_pool_digest`` (the stored snapshot is not
    the one whose digest was published), ``snapshot_unreadable``, ``task_count``,
    ``task_subject``, ``task_inspectors``, ``task_status``.
    """
    v = Verification(plan=attempt.plan_id, draw=attempt.number)
    snapshots = {}
    for pool, blob, stored in (
        ("subject", attempt.subjects_snapshot, attempt.subjects_digest),
        ("inspector", attempt.inspectors_snapshot, attempt.inspectors_digest),
    ):
        try:
            data = zlib.decompress(bytes(blob))
        except zlib.error:
            v.add(
                "snapshot_unreadable", f"The stored {pool} pool snapshot cannot be read.", pool=pool
            )
            continue
        actual = drawing.digest(data)
        if actual != stored:
            v.add(
                f"{pool}_pool_digest",
                f"The {pool} pool snapshot was altered: its SHA-256 is {actual}, "
                f"the draw published {stored}.",
                pool=pool,
                published=stored,
                actual=actual,
            )
        snapshots[pool] = data
    if not v.ok:
        return v
    try:
        subjects = drawing.parse_subjects(snapshots["subject"])
        inspectors = drawing.parse_inspectors(snapshots["inspector"])
    except drawing.SnapshotError as exc:
        v.add("snapshot_unreadable", str(exc))
        return v
    outcome = drawing.draw(
        int(attempt.seed, 16),
        subjects,
        inspectors,
        drawing.Parameters.from_dict(attempt.parameters),
    )
    stored_tasks = list(
        InspectionTask.objects.filter(draw=attempt)
        .order_by("number")
        .values_list("id", "number", "subject_id", "status")
    )
    v.tasks = len(stored_tasks)
    assigned: dict[int, list[int]] = defaultdict(list)
    for task_id, inspector_id in (
        TaskAssignment.objects.filter(task__draw=attempt)
        .order_by("task_id", "position")
        .values_list("task_id", "inspector_id")
    ):
        assigned[task_id].append(inspector_id)
    if len(stored_tasks) != len(outcome.tasks):
        v.add(
            "task_count",
            f"The stored draw has {len(stored_tasks)} tasks; the re-run draws "
            f"{len(outcome.tasks)}.",
            stored=len(stored_tasks),
            redrawn=len(outcome.tasks),
        )
    codes = _subject_codes(
        {t[2] for t in stored_tasks} | {t.subject for t in outcome.tasks}, limit=True
    )
    badges = dict(Inspector.objects.values_list("id", "badge_no"))
    for (task_id, number, subject_id, _status), drawn in zip(
        stored_tasks, outcome.tasks, strict=False
    ):
        if len(v.problems) >= MAX_PROBLEMS:
            break
        if subject_id != drawn.subject:
            v.add(
                "task_subject",
                f"Task {number}: the stored draw visits {codes.get(subject_id, subject_id)}, "
                f"the re-run draws {codes.get(drawn.subject, drawn.subject)}.",
                task=number,
                stored=codes.get(subject_id, subject_id),
                redrawn=codes.get(drawn.subject, drawn.subject),
            )
            continue
        stored_ins = assigned.get(task_id, [])
        if stored_ins != list(drawn.inspectors):
            only_stored = [badges.get(i, str(i)) for i in stored_ins if i not in drawn.inspectors]
            only_drawn = [badges.get(i, str(i)) for i in drawn.inspectors if i not in stored_ins]
            were = ", ".join(badges.get(i, str(i)) for i in stored_ins) or "nobody"
            now = ", ".join(badges.get(i, str(i)) for i in drawn.inspectors) or "nobody"
            v.add(
                "task_inspectors",
                f"Task {number} ({codes.get(subject_id, subject_id)}): the stored draw assigns "
                f"{were}, the re-run assigns {now} "
                f"(differs: {', '.join(only_stored + only_drawn) or 'order'}).",
                task=number,
                stored=[badges.get(i, str(i)) for i in stored_ins],
                redrawn=[badges.get(i, str(i)) for i in drawn.inspectors],
            )
    return v


def _subject_codes(ids: set[int], *, limit: bool = False) -> dict[int, str]:
    if limit and len(ids) > 5000:
        return {}
    return dict(Subject.objects.filter(pk__in=ids).values_list("id", "code"))


def snapshot_subjects(attempt: DrawAttempt) -> list[drawing.PoolSubject]:
    return drawing.parse_subjects(zlib.decompress(bytes(attempt.subjects_snapshot)))


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def publication_due(inspected_on: dt.date) -> dt.date:
    return calendar().add_working_days(
        inspected_on, int(settings_config()["publication_working_days"])
    )


def _result_row(r: InspectionResult, plan_item: PlanItem) -> dict[str, Any]:
    subject = r.task.subject
    return {
        "subject_name": subject.name,
        "subject_code": subject.code,
        "inspection_no": f"SJ{r.task.plan_id:05d}-{r.task.number:06d}-{r.department.code}",
        "inspection_item": plan_item.matter,
        "inspection_date": r.inspected_on,
        "outcome": r.outcome,
        "authority": r.department.name_zh,
    }


@transaction.atomic
def result_enter(
    *,
    task: InspectionTask,
    actor: Any,
    outcome: str,
    inspected_on: dt.date,
    findings: str = "",
    department: Department | None = None,
    publish: bool = True,
    unreported_incident: str = "",
) -> InspectionResult:
    """A department's result of a task, entered by its inspector or officer (or city-wide
    staff naming the department). Published at once unless ``publish`` is false.

    ``unreported_incident``: a quality incident the inspection found that the enterprise had
    not reported: it becomes an ``unreported_quality_incident`` record.
    """
    _check_scope(actor, "supervision.result")
    if outcome not in InspectionResult.Outcome.values:
        raise ValidationFailed(
            f"Unknown outcome {outcome!r}.",
            code="bad_outcome",
            details={"valid": list(InspectionResult.Outcome.values)},
        )
    task = (
        InspectionTask.objects.select_for_update()
        .select_related("subject", "draw", "plan")
        .get(pk=task.pk)
    )
    if task.plan.current_draw_id != task.draw_id:
        raise Conflict("This task belongs to a superseded draw.", code="superseded_draw")
    if task.status == InspectionTask.Status.UNSTAFFED:
        raise Conflict("This task could not be staffed.", code="task_unstaffed")
    own = actor_department(actor)
    if actor is not None and not actor.is_citywide:
        if department is not None and own is not None and department.pk != own.pk:
            raise PermissionDenied(
                "You may enter results only for your own department.",
                code="forbidden_department",
            )
        department = own
    if department is None:
        raise ValidationFailed("Name the department of the result.", code="department_required")
    item = task.plan.items.filter(department=department).first()
    if item is None:
        raise PermissionDenied(
            f"Task {task.number} is not a task of department {department.code}.",
            code="forbidden_department",
            details={
                "task": task.number,
                "department": department.code,
                "task_departments": list(
                    task.plan.items.values_list("department__code", flat=True)
                ),
            },
        )
    if actor is not None and getattr(actor, "role", None) == Role.INSPECTOR:
        inspector = getattr(actor, "inspector", None)
        if inspector is None or not task.assignments.filter(inspector=inspector).exists():
            raise PermissionDenied(
                "Only an inspector assigned to this task may enter its result.",
                code="not_assigned",
            )
    today = timezone.localdate()
    if inspected_on > today:
        raise ValidationFailed("The inspection date is in the future.", code="future_date")
    if InspectionResult.objects.filter(task=task, department=department).exists():
        raise Conflict(
            f"Department {department.code} entered the result of task {task.number} already.",
            code="result_exists",
        )
    r = InspectionResult(
        task=task,
        department=department,
        outcome=outcome,
        inspected_on=inspected_on,
        findings=findings,
        entered_by=_user(actor),
        publish_due=publication_due(inspected_on),
    )
    r.save()
    if publish:
        _publish(r, item, actor, today)
    if unreported_incident.strip():
        incident_found(
            task=task,
            actor=actor,
            department=department,
            description=unreported_incident,
            found_on=inspected_on,
        )
    if not task.plan.items.exclude(
        department_id__in=task.results.values_list("department_id", flat=True)
    ).exists():
        InspectionTask.objects.filter(pk=task.pk).update(status=InspectionTask.Status.DONE)
    return r


def _publish(r: InspectionResult, item: PlanItem, actor: Any, today: dt.date) -> None:
    row = _result_row(r, item)
    records = _store_records(
        dataset="inspection_result",
        department=r.department,
        rows=[row],
        actor=actor,
        name=f"inspection_result-{row['inspection_no']}.csv",
    )
    r.record = records[row["inspection_no"]]
    r.published_on = today
    r.publication_late = today > r.publish_due
    r.save()


@transaction.atomic
def result_publish(*, result: InspectionResult, actor: Any) -> InspectionResult:
    _check_scope(actor, "supervision.result")
    result = InspectionResult.objects.select_for_update().get(pk=result.pk)
    own = actor_department(actor)
    if (
        actor is not None
        and not actor.is_citywide
        and (own is None or own.pk != result.department_id)
    ):
        raise PermissionDenied("Another department's result.", code="forbidden_department")
    if result.published_on is not None:
        return result
    item = result.task.plan.items.get(department_id=result.department_id)
    _publish(result, item, actor, timezone.localdate())
    return result


def results_flag_overdue(*, on: dt.date | None = None) -> int:
    """Flag results not published within the working-day limit; return how many were flagged."""
    on = on or timezone.localdate()
    return InspectionResult.objects.filter(
        published_on__isnull=True, publish_due__lt=on, publication_late=False
    ).update(publication_late=True)


@job_kind("supervision_daily")
def _daily_job(job: Job, progress: Any) -> dict[str, Any]:
    day = dt.date.fromisoformat(job.params["today"])
    return {
        "commitments": commitments_check(on=day),
        "results_flagged_late": results_flag_overdue(on=day),
    }


@daily("supervision_daily", "mark commitments broken by later records; flag unpublished results")
def _start_daily(day: dt.date) -> Job:
    job = job_create(
        kind="supervision_daily",
        title=f"Supervision checks on {day}",
        params={"today": day.isoformat()},
    )
    return job_enqueue(job)


# --------------------------------------------------------------------------------------------
# Spot checks
# --------------------------------------------------------------------------------------------


def _check_market(actor: Any, department: Department) -> None:
    own = actor_department(actor)
    if actor is not None and not actor.is_citywide and (own is None or own.pk != department.pk):
        raise PermissionDenied(
            "Spot checks are the planning department's.", code="forbidden_department"
        )


@transaction.atomic
def spotcheck_plan_create(
    *,
    actor: Any,
    name: str,
    product_category: str,
    risk: str,
    year: int | None = None,
    department: Department | None = None,
) -> SpotCheckPlan:
    _check_scope(actor, "supervision.plan")
    department = department or actor_department(actor) or Department.objects.get(code="market")
    if not get_dataset("spot_check_result").allowed(department.code):
        raise ValidationFailed(
            f"Department {department.code} does not publish spot-check results.",
            code="department_not_allowed",
        )
    _check_market(actor, department)
    if risk not in SpotCheckPlan.Risk.values:
        raise ValidationFailed(f"Unknown risk level {risk!r}.", code="bad_risk")
    if not name.strip() or not product_category.strip():
        raise ValidationFailed("Name the plan and the product category.", code="name_required")
    p = SpotCheckPlan(
        name=name.strip(),
        product_category=product_category.strip(),
        risk=risk,
        year=year or timezone.localdate().year,
        department=department,
        created_by=_user(actor),
    )
    p.save()
    return p


@transaction.atomic
def sample_take(
    *,
    actor: Any,
    plan: SpotCheckPlan,
    subject: Subject,
    product: str,
    batch: str = "",
    sampled_on: dt.date | None = None,
    recheck_of: Sample | None = None,
) -> Sample:
    _check_scope(actor, "supervision.result")
    _check_market(actor, plan.department)
    sampled_on = sampled_on or timezone.localdate()
    if sampled_on > timezone.localdate():
        raise ValidationFailed("The sampling date is in the future.", code="future_date")
    if not product.strip():
        raise ValidationFailed("Name the product sampled.", code="product_required")
    n = Sample.objects.filter(plan=plan).count() + 1
    s = Sample(
        plan=plan,
        sample_no=f"CC{plan.year}{plan.pk:04d}{n:05d}{'R' if recheck_of else ''}",
        subject=subject,
        product=product.strip(),
        batch=batch.strip(),
        sampled_on=sampled_on,
        recheck_of=recheck_of,
    )
    s.save()
    return s


@transaction.atomic
def sample_result(
    *,
    actor: Any,
    sample: Sample,
    result: str,
    result_date: dt.date | None = None,
    failed_items: str = "",
    standard: str = "",
) -> Sample:
    """The test result of a sample; a credit record. A failure orders rectification within the
    configured days and opens the re-check sample (taken when rectification is due)."""
    _check_scope(actor, "supervision.result")
    sample = Sample.objects.select_for_update().select_related("plan", "subject").get(pk=sample.pk)
    _check_market(actor, sample.plan.department)
    if sample.result != Sample.Result.PENDING:
        raise Conflict("This sample has its result already.", code="result_exists")
    if result not in (Sample.Result.PASS, Sample.Result.FAIL):
        raise ValidationFailed("The result is pass or fail.", code="bad_result")
    if result == Sample.Result.FAIL and not (failed_items.strip() and standard.strip()):
        raise ValidationFailed(
            "A failed sample needs the failed items and the standard tested against.",
            code="failure_details_required",
        )
    result_date = result_date or timezone.localdate()
    if result_date > timezone.localdate() or result_date < sample.sampled_on:
        raise ValidationFailed(
            "The result date must lie between sampling and today.", code="bad_date"
        )
    sample.result = result
    sample.result_date = result_date
    sample.failed_items = failed_items.strip()
    sample.standard = standard.strip()
    if result == Sample.Result.FAIL:
        sample.rectification_due = result_date + dt.timedelta(
            days=int(settings_config()["rectification_days"])
        )
    sample.save()
    records = _store_records(
        dataset="spot_check_result",
        department=sample.plan.department,
        rows=[
            {
                "subject_name": sample.subject.name,
                "subject_code": sample.subject.code,
                "sample_no": sample.sample_no,
                "product": sample.product,
                "batch": sample.batch,
                "result": result,
                "failed_items": sample.failed_items,
                "standard": sample.standard,
                "result_date": result_date,
            }
        ],
        actor=actor,
        name=f"spot_check_result-{sample.sample_no}.csv",
    )
    sample.record = records[sample.sample_no]
    sample.save()
    return sample


def recheck_take(
    *, actor: Any, sample: Sample, sampled_on: dt.date | None = None, batch: str = ""
) -> Sample:
    """The re-check of a failed sample after rectification (one per failed sample)."""
    if sample.result != Sample.Result.FAIL:
        raise Conflict("Only a failed sample is re-checked.", code="not_failed")
    if Sample.objects.filter(recheck_of=sample).exists():
        raise Conflict("This sample was re-checked already.", code="recheck_exists")
    return sample_take(
        actor=actor,
        plan=sample.plan,
        subject=sample.subject,
        product=sample.product,
        batch=batch or sample.batch,
        sampled_on=sampled_on,
        recheck_of=sample,
    )


# --------------------------------------------------------------------------------------------
# Incidents
# --------------------------------------------------------------------------------------------


def _incident_number(now: dt.datetime) -> str:
    return f"SG{timezone.localtime(now):%Y%m%d}{secrets.token_hex(3).upper()}"


@transaction.atomic
def incident_report(
    *,
    actor: Any,
    product: str,
    defect: str,
    discovered_at: dt.datetime,
    department: Department | None = None,
    subject: Subject | None = None,
    batch: str = "",
    harm: str = "",
    scale: str = "",
    actions_taken: str = "",
) -> IncidentReport:
    """An enterprise reports a quality incident of its own subject; late when reported more
    than the configured hours after its discovery."""
    _check_scope(actor, "supervision.report")
    subject = _bound_subject(actor, subject)
    now = timezone.now()
    if timezone.is_naive(discovered_at):
        discovered_at = timezone.make_aware(discovered_at)
    if discovered_at > now:
        raise ValidationFailed(
            "The incident cannot be discovered in the future.", code="future_date"
        )
    if not product.strip() or not defect.strip():
        raise ValidationFailed("Name the product and the defect.", code="details_required")
    department = department or Department.objects.get(code="market")
    due = discovered_at + dt.timedelta(hours=int(settings_config()["incident_report_hours"]))
    r = IncidentReport(
        number=_incident_number(now),
        subject=subject,
        department=department,
        product=product.strip(),
        batch=batch.strip(),
        defect=defect.strip(),
        harm=harm.strip(),
        scale=scale.strip(),
        actions_taken=actions_taken.strip(),
        discovered_at=discovered_at,
        reported_at=now,
        report_due=due,
        late=now > due,
        reported_by=_user(actor),
    )
    r.save()
    IncidentEvent.objects.create(
        report=r,
        kind=IncidentEvent.Kind.REPORTED,
        at=now,
        actor=_user(actor),
        data={"late": r.late, "report_due": due.isoformat()},
    )
    return r


@transaction.atomic
def incident_triage(
    *,
    actor: Any,
    report: IncidentReport,
    risk_level: str,
    follow_up: str,
    recall_needed: bool,
    close: bool = False,
) -> IncidentReport:
    """The responsible department's triage; every triage is an event (history is kept)."""
    _check_scope(actor, "supervision.result")
    report = IncidentReport.objects.select_for_update().get(pk=report.pk)
    own = actor_department(actor)
    if (
        actor is not None
        and not actor.is_citywide
        and (own is None or own.pk != report.department_id)
    ):
        raise PermissionDenied(
            "Only the responsible department triages this incident.", code="forbidden_department"
        )
    if report.status == IncidentReport.Status.CLOSED:
        raise Conflict("The incident is closed.", code="incident_closed")
    if risk_level not in IncidentReport.Risk.values:
        raise ValidationFailed(f"Unknown risk level {risk_level!r}.", code="bad_risk")
    if not follow_up.strip():
        raise ValidationFailed("Say what follows.", code="follow_up_required")
    report.risk_level = risk_level
    report.follow_up = follow_up.strip()
    report.recall_needed = recall_needed
    report.status = IncidentReport.Status.CLOSED if close else IncidentReport.Status.TRIAGED
    report.save()
    now = timezone.now()
    IncidentEvent.objects.create(
        report=report,
        kind=IncidentEvent.Kind.TRIAGED,
        at=now,
        actor=_user(actor),
        note=report.follow_up,
        data={"risk_level": risk_level, "recall_needed": recall_needed},
    )
    if close:
        IncidentEvent.objects.create(
            report=report, kind=IncidentEvent.Kind.CLOSED, at=now, actor=_user(actor)
        )
    return report


def incident_found(
    *,
    task: InspectionTask,
    actor: Any,
    department: Department,
    description: str,
    found_on: dt.date,
) -> IncidentReport | None:
    """An inspection found an incident. If the enterprise had reported one (in the year before),
    nothing counts against it; otherwise the incident is recorded against its credit."""
    since = timezone.make_aware(dt.datetime.combine(found_on - dt.timedelta(days=365), dt.time()))
    reported = IncidentReport.objects.filter(
        subject_id=task.subject_id, origin=IncidentReport.Origin.SELF, discovered_at__gte=since
    ).exists()
    if reported:
        return None
    now = timezone.now()
    found_at = timezone.make_aware(dt.datetime.combine(found_on, dt.time(9)))
    r = IncidentReport(
        number=_incident_number(now),
        subject=task.subject,
        department=department,
        origin=IncidentReport.Origin.INSPECTION,
        product="—",
        defect=description.strip(),
        discovered_at=found_at,
        report_due=found_at,
        late=True,
        task=task,
        status=IncidentReport.Status.REPORTED,
    )
    r.save()
    records = _store_records(
        dataset="unreported_quality_incident",
        department=department,
        rows=[
            {
                "subject_name": task.subject.name,
                "subject_code": task.subject.code,
                "case_no": r.number,
                "found_on": found_on,
                "description": r.defect,
                "found_by": f"双随机抽查 {task.plan_id}/{task.number}",
            }
        ],
        actor=actor,
        name=f"unreported_quality_incident-{r.number}.csv",
    )
    r.record = records[r.number]
    r.save()
    IncidentEvent.objects.create(
        report=r,
        kind=IncidentEvent.Kind.FOUND,
        at=now,
        actor=_user(actor),
        note=r.defect,
        data={"task": task.number, "plan": task.plan_id},
    )
    return r
