"""Reads of the records app: credit files, submissions, quarantine, timeliness, dashboard figures.

Every queryset a user reaches goes through ``.restrict(actor, "view")``. Personal data (natural
persons' names and resident ID numbers) is masked for the public; a staff view of a natural
person's unmasked file is recorded in ``core.PersonalDataAccess``.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from qualitycity.core.errors import NotFound
from qualitycity.core.models import ApiClient, Department, Role
from qualitycity.subjects.identifiers import mask_person_name, mask_resident_id
from qualitycity.subjects.models import Subject

from .models import QuarantinedRow, Record, SourceFile
from .workdays import calendar

# --------------------------------------------------------------------------------------------
# Catalogue access (the catalogue module is the ingestion engine's; we only read it)
# --------------------------------------------------------------------------------------------

# Credit-information categories in the order a credit file shows them.
CATEGORY_LABELS: dict[str, Any] = {
    "licence": _("Administrative licences"),
    "penalty": _("Administrative penalties"),
    "inspection": _("Inspections and spot checks"),
    "evaluation": _("Credit evaluations and ratings"),
    "judicial": _("Judicial rulings and enforcement"),
    "contract_performance": _("Contract performance"),
    "administrative": _("Other administrative management"),
    "honour": _("Honours and awards"),
    "registration": _("Registration"),
}

DOUBLE_PUBLICITY_DAYS = 7
PERSON_FIELD_TYPES = frozenset({"person_name", "resident_id"})


@functools.cache
def _catalogue_datasets() -> list[dict[str, Any]]:
    """The dataset catalogue as plain dicts (``code``, names, ``category``, ``fields`` …)."""
    from . import catalogue

    return [d.as_dict() for d in catalogue.datasets()]


@functools.cache
def _datasets_by_code() -> dict[str, dict[str, Any]]:
    return {d["code"]: d for d in _catalogue_datasets()}


def datasets() -> dict[str, dict[str, Any]]:
    """Dataset code → catalogue entry (shared: read it, do not change it)."""
    return _datasets_by_code()


def dataset_name(code: str) -> str:
    entry = datasets().get(code)
    if entry is None:
        return code
    lang = get_language() or ""
    return entry.get("name_en") if lang.startswith("en") else entry.get("name_zh") or code


def double_publicity_datasets() -> list[str]:
    return [code for code, d in datasets().items() if d.get("double_publicity")]


def submittable_datasets(*, user: Any, department: Department | None = None) -> list[dict]:
    """Datasets the user (or, for city-wide roles, the chosen department) may submit."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    if user.is_citywide:
        dept_code = department.code if department is not None else None
    elif user.role == Role.DATA_OFFICER and getattr(user, "department", None) is not None:
        dept_code = user.department.code
    else:
        return []
    out = []
    for d in _catalogue_datasets():
        if dept_code is None or dept_code in (d.get("departments") or []):
            out.append(d)
    return out


def submitting_departments(*, user: Any) -> models.QuerySet:
    """Departments the user may submit for: their own, or any for city-wide roles."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Department.objects.none()
    if user.is_citywide:
        return Department.objects.order_by("sort", "code")
    if user.role == Role.DATA_OFFICER and user.department_id:
        return Department.objects.filter(pk=user.department_id)
    return Department.objects.none()


# --------------------------------------------------------------------------------------------
# Actors
# --------------------------------------------------------------------------------------------


def is_staff_view(actor: Any) -> bool:
    """Whether the actor gets the full (unmasked, with provenance) view of credit files.

    Signed-in staff and API clients with ``subjects.read``; the public and enterprise users get
    the public view.
    """
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if isinstance(actor, ApiClient):
        return actor.has_scope("subjects.read")
    if getattr(actor, "role", None) == Role.ENTERPRISE and not actor.is_superuser:
        return False
    return "subjects.read" in actor.scopes()


# --------------------------------------------------------------------------------------------
# Credit files
# --------------------------------------------------------------------------------------------


@dataclass
class FieldValue:
    name: str
    label: str
    value: Any


@dataclass
class CreditRecord:
    id: int
    dataset: str
    dataset_name: str
    category: str
    polarity: str
    severity: int
    decision_date: dt.date | None
    source_record_id: str
    department_code: str
    department_name: str
    is_public: bool
    version: int
    fields: list[FieldValue]
    source_file_id: int | None = None
    source_file_name: str | None = None
    source_file_date: dt.datetime | None = None
    row_number: int | None = None


@dataclass
class CategoryGroup:
    code: str
    label: str
    records: list[CreditRecord]  # the newest ``per_category`` when the file is capped
    total: int = 0  # records in the category, shown or not

    @property
    def more(self) -> int:
        """How many records of the category are not shown (the file was capped)."""
        return max(0, self.total - len(self.records))


@dataclass
class CreditFile:
    subject: Subject
    code: str  # masked for the public when the subject is a natural person
    name: str
    kind: str
    masked: bool
    staff: bool
    registry: list[FieldValue]
    former_names: list[str]
    groups: list[CategoryGroup]
    record_count: int
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (API): plain values only."""
        from qualitycity.subjects.selectors import subject_public_dict

        subject = subject_public_dict(
            self.subject, unmasked=self.staff, former_names=self.former_names
        )
        return {
            "subject": {
                k: _plain(v) if not isinstance(v, dict | list) else v for k, v in subject.items()
            },
            "masked": self.masked,
            "record_count": self.record_count,
            "counts": self.counts,
            "categories": [
                {
                    "category": g.code,
                    "label": str(g.label),
                    "total": g.total,
                    "records": [_record_dict(r, staff=self.staff) for r in g.records],
                }
                for g in self.groups
            ],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _record_dict(r: CreditRecord, *, staff: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dataset": r.dataset,
        "dataset_name": r.dataset_name,
        "category": r.category,
        "polarity": r.polarity,
        "severity": r.severity,
        "decision_date": _plain(r.decision_date),
        "source_record_id": r.source_record_id,
        "department": r.department_code,
        "department_name": r.department_name,
        "fields": {f.name: _plain(f.value) for f in r.fields},
    }
    if staff:
        out["is_public"] = r.is_public
        out["version"] = r.version
        out["source_file"] = {
            "id": r.source_file_id,
            "name": r.source_file_name,
            "submitted_at": _plain(r.source_file_date),
            "row_number": r.row_number,
        }
    return out


def _mask_value(ftype: str, value: Any) -> Any:
    if value in (None, ""):
        return value
    if ftype == "resident_id":
        return mask_resident_id(value)
    if ftype == "person_name":
        return mask_person_name(value)
    return value


def _label(code: str, table: dict[str, tuple[str, str]] | None) -> str:
    if not code or not table or code not in table:
        return code
    zh, en = table[code][0], table[code][1]
    return en if (get_language() or "").startswith("en") else zh


def _registry_fields(subject: Subject, *, masked: bool) -> list[FieldValue]:
    from qualitycity.subjects import codelists

    is_person = subject.kind == Subject.Kind.PERSON
    types = getattr(codelists, "SUBJECT_TYPES", {})
    statuses = getattr(codelists, "SUBJECT_STATUSES", {})
    districts = getattr(codelists, "DISTRICTS", {})
    industries = getattr(codelists, "INDUSTRY_DIVISIONS", {})
    legal_rep = subject.legal_representative
    if masked and legal_rep:
        legal_rep = mask_person_name(legal_rep)
    rows = [
        FieldValue("subject_type", str(_("Subject type")), _label(subject.subject_type, types)),
        FieldValue("district", str(_("District")), _label(subject.district, districts)),
        FieldValue("status", str(_("Status")), _label(subject.status, statuses)),
    ]
    if not is_person:
        rows += [
            FieldValue("industry", str(_("Industry")), _label(subject.industry, industries)),
            FieldValue("legal_representative", str(_("Legal representative")), legal_rep),
            FieldValue("registered_on", str(_("Registered on")), subject.registered_on),
        ]
    return rows


def _code_label(codelist: str, value: Any) -> Any:
    """A code-list value with its label (``fine`` → ``罚款``); unknown values as they are."""
    from . import catalogue

    labels = catalogue.catalogue().codelists.get(codelist) or {}
    return labels.get(str(value), value)


def _record_fields(
    record: Record, entry: dict[str, Any] | None, *, masked: bool, subject_is_person: bool
) -> list[FieldValue]:
    """The record's values, labelled by the catalogue, masked for the public where personal."""
    data = record.data or {}
    if entry is None:
        return [FieldValue(k, k, v) for k, v in data.items()]
    keys = entry.get("keys") or {}
    skip = {keys.get("subject_code"), keys.get("subject_name")}
    out = []
    for f in entry.get("fields") or []:
        name = f["name"]
        if name in skip or name not in data:
            continue
        value = data.get(name)
        ftype = f.get("type", "string")
        if ftype == "code" and f.get("codelist"):
            value = _code_label(f["codelist"], value)
        if masked:
            if ftype == "subject_name" and subject_is_person:
                ftype = "person_name"
            elif ftype == "subject_code" and subject_is_person:
                ftype = "resident_id"
            value = _mask_value(ftype, value)
        out.append(FieldValue(name, f.get("label_zh") or name, value))
    return out


def subject_for_code(*, code: str) -> Subject:
    """The registered subject for a code; raises the registry's identifier errors (400, the
    failed check as code) or ``subject_not_registered`` (404)."""
    from qualitycity.subjects.selectors import subject_get

    return subject_get(code=code)


def credit_file(
    *,
    subject: Subject,
    actor: Any,
    purpose: str = "credit_file",
    per_category: int | None = None,
) -> CreditFile:
    """A subject's credit file as the actor may see it.

    Registry data and every record the actor may see (``Record.restrict(actor, "view")``; the
    public sees only public records), grouped by category in catalogue order, newest first,
    with the submitting department and, for staff, the file each record came from. For the
    public, natural persons' names and ID numbers are masked; a staff view of a natural
    person's file is recorded in ``PersonalDataAccess``.

    ``per_category`` caps the records listed per category to the newest ones (a subject may
    have thousands); each group's ``total``, ``record_count`` and ``counts`` count them all.
    """
    staff = is_staff_view(actor)
    masked = not staff
    is_person = subject.kind == Subject.Kind.PERSON
    catalogue = datasets()
    qs = (
        Record.objects.restrict(actor, "view")
        .filter(subject=subject)
        .select_related("department", "source_file")
        .order_by("-decision_date", "-id")
    )
    groups: dict[str, list[CreditRecord]] = defaultdict(list)
    totals: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for rec in qs.iterator(chunk_size=500):
        totals[rec.category] += 1
        counts[rec.polarity] += 1
        if per_category is not None and len(groups[rec.category]) >= per_category:
            continue
        entry = catalogue.get(rec.dataset)
        item = CreditRecord(
            id=rec.pk,
            dataset=rec.dataset,
            dataset_name=dataset_name(rec.dataset),
            category=rec.category,
            polarity=rec.polarity,
            severity=rec.severity,
            decision_date=rec.decision_date,
            source_record_id=rec.source_record_id,
            department_code=rec.department.code,
            department_name=rec.department.name,
            is_public=rec.is_public,
            version=rec.version,
            fields=_record_fields(rec, entry, masked=masked, subject_is_person=is_person),
        )
        if staff:
            item.source_file_id = rec.source_file_id
            item.source_file_name = rec.source_file.original_name
            item.source_file_date = rec.source_file.created_at
            item.row_number = rec.row_number
        groups[rec.category].append(item)
    order = list(CATEGORY_LABELS)
    ordered = sorted(groups, key=lambda c: (order.index(c) if c in order else len(order), c))
    if staff and is_person:
        from qualitycity.subjects.selectors import personal_data_access_record

        personal_data_access_record(actor=actor, subjects=[subject], purpose=purpose)
    former = list(subject.former_names.values_list("name", flat=True))
    return CreditFile(
        subject=subject,
        code=mask_resident_id(subject.code) if (masked and is_person) else subject.code,
        name=mask_person_name(subject.name) if (masked and is_person) else subject.name,
        kind=subject.kind,
        masked=masked,
        staff=staff,
        registry=_registry_fields(subject, masked=masked),
        former_names=former,
        groups=[
            CategoryGroup(
                code=c, label=CATEGORY_LABELS.get(c, c), records=groups[c], total=totals[c]
            )
            for c in ordered
        ],
        record_count=sum(totals.values()),
        counts=dict(counts),
    )


def _changes_or_none(*, obj: models.Model, actor: Any) -> models.QuerySet | None:
    """The object's change log when the actor may see it, else None (the page leaves it out)."""
    from qualitycity.core.errors import PermissionDenied
    from qualitycity.core.ui_selectors import object_changes

    try:
        return object_changes(user=actor, obj=obj)
    except PermissionDenied:
        return None


def subject_changes(*, subject: Subject, actor: Any) -> models.QuerySet | None:
    """The subject's change log for actors allowed to see it (city-wide roles), else None."""
    return _changes_or_none(obj=subject, actor=actor)


# --------------------------------------------------------------------------------------------
# Submissions (source files)
# --------------------------------------------------------------------------------------------


def source_file_list(
    *,
    actor: Any,
    dataset: str | None = None,
    department: str | None = None,
    status: str | None = None,
) -> models.QuerySet:
    """Submissions the actor may see, newest first."""
    qs = SourceFile.objects.restrict(actor, "view").select_related("department", "submitted_by")
    if dataset:
        qs = qs.filter(dataset=dataset)
    if department:
        qs = qs.filter(department__code=department)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def source_file_get(*, actor: Any, pk: int) -> SourceFile:
    """One submission the actor may see; another department's is "not found"."""
    sf = source_file_list(actor=actor).filter(pk=pk).first()
    if sf is None:
        raise NotFound("No such submission.", code="submission_not_found")
    return sf


def source_file_reasons(source_file: SourceFile) -> list[tuple[str, int]]:
    """The file's rejection reasons, most frequent first."""
    reasons = source_file.reasons or {}
    return sorted(((str(k), int(v)) for k, v in reasons.items()), key=lambda kv: (-kv[1], kv[0]))


def source_file_changes(*, source_file: SourceFile, actor: Any) -> models.QuerySet | None:
    """The submission's change log for city-wide roles and its department's officers."""
    return _changes_or_none(obj=source_file, actor=actor)


# --------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------


def quarantine_list(
    *,
    actor: Any,
    status: str | None = QuarantinedRow.Status.OPEN,
    reason: str | None = None,
    dataset: str | None = None,
    source_file: SourceFile | int | None = None,
) -> models.QuerySet:
    """Quarantined rows the actor may see, by file then row number."""
    qs = QuarantinedRow.objects.restrict(actor, "view").select_related(
        "source_file", "source_file__department"
    )
    if status:
        qs = qs.filter(status=status)
    if reason:
        qs = qs.filter(primary_reason=reason)
    if dataset:
        qs = qs.filter(source_file__dataset=dataset)
    if source_file is not None:
        qs = qs.filter(source_file=source_file)
    return qs.order_by("-source_file__created_at", "source_file_id", "row_number")


def quarantine_row_get(*, actor: Any, pk: int) -> QuarantinedRow:
    row = quarantine_list(actor=actor, status=None).filter(pk=pk).first()
    if row is None:
        raise NotFound("No such quarantined row.", code="quarantined_row_not_found")
    return row


def quarantine_reason_counts(
    *, actor: Any, status: str | None = QuarantinedRow.Status.OPEN, dataset: str | None = None
) -> list[tuple[str, int]]:
    """Open quarantined rows per primary reason, most frequent first."""
    qs = quarantine_list(actor=actor, status=status, dataset=dataset)
    rows = qs.order_by().values("primary_reason").annotate(n=Count("id"))
    return sorted(((r["primary_reason"], r["n"]) for r in rows), key=lambda kv: (-kv[1], kv[0]))


def quarantine_datasets(*, actor: Any) -> list[str]:
    """Datasets that have open quarantined rows the actor may see."""
    qs = quarantine_list(actor=actor).order_by().values_list("source_file__dataset", flat=True)
    return sorted(set(qs.distinct()))


def quarantine_row_fields(row: QuarantinedRow) -> list[dict[str, Any]]:
    """The row's cells with the reasons for each, for the correction form.

    Cells are keyed as received (``raw``); reasons name a field by its catalogue name or by
    the header it came from. Fields the catalogue knows but the row lacks are added empty.
    """
    raw = row.raw if isinstance(row.raw, dict) else {}
    raw = {k: v for k, v in raw.items() if k != "_line"}  # the engine's bookkeeping
    entry = datasets().get(row.source_file.dataset) or {}
    by_label = {}
    for f in entry.get("fields") or []:
        by_label[f["name"]] = f["name"]
        if f.get("label_zh"):
            by_label[f["label_zh"]] = f["name"]
    reasons: dict[str, list[dict[str, Any]]] = defaultdict(list)
    general = []
    for r in row.reasons or []:
        fname = r.get("field") or ""
        target = fname if fname in raw else by_label.get(fname, fname)
        if not fname:
            general.append(r)
        else:
            reasons[target].append(r)
    cells = []
    seen = set()
    for key, value in raw.items():
        seen.add(key)
        name = by_label.get(key, key)
        found = reasons.get(key, []) + (reasons.get(name, []) if name != key else [])
        cells.append({"key": key, "name": name, "value": value, "reasons": found})
    for f in entry.get("fields") or []:
        if f["name"] not in seen and f.get("label_zh") not in seen:
            found = reasons.get(f["name"], [])
            cells.append({"key": f["name"], "name": f["name"], "value": "", "reasons": found})
            seen.add(f["name"])
    known = {c["key"] for c in cells} | {c["name"] for c in cells}
    for fname, rs in reasons.items():
        if fname not in known:
            general.extend(rs)
    return [{"general": general}] + cells if general else cells


# --------------------------------------------------------------------------------------------
# Timeliness
# --------------------------------------------------------------------------------------------


@dataclass
class DepartmentTimeliness:
    department: Department
    records: int = 0
    median: float | None = None
    p90: float | None = None
    mean: float | None = None
    max: int | None = None
    due: int = 0  # double-publicity records
    late: int = 0  # of those, submitted later than the limit

    @property
    def late_share(self) -> float | None:
        return (self.late / self.due) if self.due else None

    @property
    def late_percent(self) -> float | None:
        return round(100.0 * self.late / self.due, 1) if self.due else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "department": self.department.code if self.department else None,
            "department_name": self.department.name if self.department else None,
            "records": self.records,
            "median_working_days": self.median,
            "p90_working_days": self.p90,
            "mean_working_days": self.mean,
            "max_working_days": self.max,
            "double_publicity_records": self.due,
            "late": self.late,
            "late_share": self.late_share,
        }


@dataclass
class TimelinessReport:
    limit: int
    departments: list[DepartmentTimeliness]
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    totals: DepartmentTimeliness | None = None  # all departments together
    # Records of backfill submissions (historical data migrated into the platform) that the
    # filters would otherwise have counted: their submission time says nothing about delays.
    backfill_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "limit_working_days": self.limit,
            "date_from": _plain(self.date_from),
            "date_to": _plain(self.date_to),
            "departments": [d.as_dict() for d in self.departments],
            "all": self.totals.as_dict() if self.totals else None,
            "excluded_backfill_records": self.backfill_records,
        }


def _weighted_quantile(values: list[tuple[int, int]], q: float) -> float | None:
    """The q-quantile of a distribution given as sorted (value, count) pairs (nearest rank)."""
    total = sum(n for _, n in values)
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value, n in values:
        seen += n
        if seen >= rank:
            return float(value)
    return float(values[-1][0])


def _timeliness_base(
    actor: Any,
    *,
    department: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    datasets_in: Iterable[str] | None = None,
    backfill: bool = False,
) -> models.QuerySet:
    """Records with a decision date the actor may see, of live submissions (``backfill``
    False, the default) or of backfill submissions (True), which timeliness leaves out."""
    qs = Record.objects.restrict(actor, "view").filter(
        decision_date__isnull=False, source_file__backfill=backfill
    )
    if department:
        qs = qs.filter(department__code=department)
    if date_from:
        qs = qs.filter(decision_date__gte=date_from)
    if date_to:
        qs = qs.filter(decision_date__lte=date_to)
    if datasets_in is not None:
        qs = qs.filter(dataset__in=list(datasets_in))
    return qs


def _delay_pairs(qs: models.QuerySet, *, by_department: bool = True) -> Iterator[dict[str, Any]]:
    """Counts per (department, decision date, submission date), aggregated in SQL.

    The submission date is the local (``TIME_ZONE``) date of ``Record.submitted_at``.
    """
    keys = (
        ["department_id", "decision_date", "sub_date"]
        if by_department
        else [
            "decision_date",
            "sub_date",
        ]
    )
    return (
        qs.annotate(sub_date=TruncDate("submitted_at", tzinfo=timezone.get_current_timezone()))
        .values(*keys)
        .annotate(n=Count("id"))
        .order_by()
        .iterator()
    )


def timeliness(
    *,
    actor: Any,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = DOUBLE_PUBLICITY_DAYS,
    department: str | None = None,
) -> TimelinessReport:
    """Per department: the delay from decision date to submission in working days (median, p90,
    mean, max over all its records), and its double-publicity records (licences, penalties)
    submitted later than ``limit`` working days: count and share.

    Counts per (department, decision date, submission date) come from SQL; the working-day
    arithmetic (holiday calendar in ``config/holidays.yaml``) is a Python pass over those.

    Records of backfill submissions (historical data migrated into the platform) are left
    out: their submission time is the migration's, not the department's. The report counts
    them (``backfill_records``) so that the page can say how many were left out.
    """
    cal = calendar()
    dp = set(double_publicity_datasets())
    base = _timeliness_base(actor, department=department, date_from=date_from, date_to=date_to)
    dist: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in _delay_pairs(base):
        delay = cal.working_days_between(row["decision_date"], row["sub_date"])
        dist[row["department_id"]][delay] += row["n"]
    late: dict[int, int] = defaultdict(int)
    due: dict[int, int] = defaultdict(int)
    for row in _delay_pairs(base.filter(dataset__in=dp)):
        due[row["department_id"]] += row["n"]
        if cal.working_days_between(row["decision_date"], row["sub_date"]) > limit:
            late[row["department_id"]] += row["n"]
    depts = Department.objects.in_bulk(list(dist))
    overall: dict[int, int] = defaultdict(int)
    for hist in dist.values():
        for delay, n in hist.items():
            overall[delay] += n
    out = []
    for dept_id, hist in dist.items():
        pairs = sorted(hist.items())
        n = sum(hist.values())
        out.append(
            DepartmentTimeliness(
                department=depts[dept_id],
                records=n,
                median=_weighted_quantile(pairs, 0.5),
                p90=_weighted_quantile(pairs, 0.9),
                mean=round(sum(v * c for v, c in pairs) / n, 2) if n else None,
                max=pairs[-1][0] if pairs else None,
                due=due.get(dept_id, 0),
                late=late.get(dept_id, 0),
            )
        )
    out.sort(key=lambda d: (-(d.late_share or 0), d.department.sort, d.department.code))
    pairs = sorted(overall.items())
    n_all = sum(overall.values())
    totals = DepartmentTimeliness(
        department=None,  # type: ignore[arg-type]
        records=n_all,
        median=_weighted_quantile(pairs, 0.5),
        p90=_weighted_quantile(pairs, 0.9),
        mean=round(sum(v * c for v, c in pairs) / n_all, 2) if n_all else None,
        max=pairs[-1][0] if pairs else None,
        due=sum(due.values()),
        late=sum(late.values()),
    )
    backfill_records = _timeliness_base(
        actor, department=department, date_from=date_from, date_to=date_to, backfill=True
    ).count()
    return TimelinessReport(
        limit=limit,
        departments=out,
        date_from=date_from,
        date_to=date_to,
        totals=totals,
        backfill_records=backfill_records,
    )


@dataclass
class LatePage:
    total: int
    records: list[dict[str, Any]]
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def late_submissions(
    *,
    actor: Any,
    department: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    limit: int = DOUBLE_PUBLICITY_DAYS,
    page: int = 1,
    per_page: int = 50,
) -> LatePage:
    """Double-publicity records submitted later than ``limit`` working days, newest decision
    first, one page at a time (for drill-down from the timeliness table).

    The late (decision date, submission date) pairs and their counts come from SQL; only the
    records of the requested page are then fetched.
    """
    cal = calendar()
    dp = double_publicity_datasets()
    base = _timeliness_base(
        actor, department=department, date_from=date_from, date_to=date_to, datasets_in=dp
    )
    late_pairs = []
    for row in _delay_pairs(base, by_department=False):
        delay = cal.working_days_between(row["decision_date"], row["sub_date"])
        if delay > limit:
            late_pairs.append((row["decision_date"], row["sub_date"], row["n"], delay))
    late_pairs.sort(key=lambda p: (p[0], p[1]), reverse=True)
    total = sum(p[2] for p in late_pairs)
    page = max(1, page)
    start, stop = (page - 1) * per_page, page * per_page
    # Pairs overlapping [start, stop)
    chosen, offset, seen = [], None, 0
    for p in late_pairs:
        if seen + p[2] > start and seen < stop:
            if offset is None:
                offset = start - seen
            chosen.append(p)
        seen += p[2]
        if seen >= stop:
            break
    records: list[dict[str, Any]] = []
    if chosen:
        tz = timezone.get_current_timezone()
        cond = Q()
        delays = {}
        for decision, submitted, _n, delay in chosen:
            lo = dt.datetime.combine(submitted, dt.time.min, tzinfo=tz)
            hi = lo + dt.timedelta(days=1)
            cond |= Q(decision_date=decision, submitted_at__gte=lo, submitted_at__lt=hi)
            delays[(decision, submitted)] = delay
        qs = (
            base.filter(cond)
            .select_related("department", "subject", "source_file")
            .order_by("-decision_date", "-submitted_at", "-id")
        )
        rows = list(qs[offset : offset + per_page])
        staff = is_staff_view(actor)
        for r in rows:
            local = timezone.localtime(r.submitted_at, tz)
            is_person = r.subject.kind == Subject.Kind.PERSON
            records.append(
                {
                    "record": r,
                    "subject_code": r.subject.code
                    if (staff or not is_person)
                    else mask_resident_id(r.subject.code),
                    "subject_name": r.subject.name
                    if (staff or not is_person)
                    else mask_person_name(r.subject.name),
                    "dataset": r.dataset,
                    "dataset_name": dataset_name(r.dataset),
                    "department": r.department,
                    "decision_date": r.decision_date,
                    "submitted_on": local.date(),
                    "due_on": cal.add_working_days(r.decision_date, limit),
                    "delay": delays.get((r.decision_date, local.date()))
                    or cal.working_days_between(r.decision_date, local.date()),
                    "source_file": r.source_file,
                }
            )
    return LatePage(total=total, records=records, page=page, per_page=per_page)


# --------------------------------------------------------------------------------------------
# Dashboard figures
# --------------------------------------------------------------------------------------------


def subjects_by_type_and_district() -> dict[str, Any]:
    """Registered subjects per type and per district (the registry is public information)."""
    from qualitycity.subjects import codelists

    qs = Subject.objects.order_by()
    by_type = {r["subject_type"]: r["n"] for r in qs.values("subject_type").annotate(n=Count("id"))}
    by_district = {r["district"]: r["n"] for r in qs.values("district").annotate(n=Count("id"))}
    types = getattr(codelists, "SUBJECT_TYPES", {})
    districts = getattr(codelists, "DISTRICTS", {})
    return {
        "total": sum(by_type.values()),
        "by_type": sorted(
            ((_label(k, types), v) for k, v in by_type.items()), key=lambda kv: -kv[1]
        ),
        "by_district": sorted(
            ((_label(k, districts) or "—", v) for k, v in by_district.items()),
            key=lambda kv: -kv[1],
        ),
    }


def records_by_department(*, actor: Any) -> list[tuple[Department, int]]:
    qs = Record.objects.restrict(actor, "view").order_by()
    rows = qs.values("department_id").annotate(n=Count("id"))
    counts = {r["department_id"]: r["n"] for r in rows}
    depts = Department.objects.in_bulk(list(counts))
    return sorted(((depts[k], v) for k, v in counts.items()), key=lambda kv: -kv[1])


def records_by_dataset(*, actor: Any) -> list[tuple[str, str, int]]:
    qs = Record.objects.restrict(actor, "view").order_by()
    rows = qs.values("dataset").annotate(n=Count("id"))
    return sorted(
        ((r["dataset"], dataset_name(r["dataset"]), r["n"]) for r in rows), key=lambda t: -t[2]
    )
