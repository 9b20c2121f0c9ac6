"""The catalogue of lists and the dated publication-period rules, from ``config/*.yaml``.

Pure configuration, validated on load: an unknown department, dataset, field or code, a missing
legal basis or an unknown level is refused with the file and the list it concerns.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).parent / "config"
KINDS = ("red", "black", "watch")
LEVELS = ("minor", "general", "serious")
# Working-day deadlines every period rule states (periods.yaml ``deadlines``).
DEADLINES = (
    "notice_working_days",  # notice to the subject → earliest publication (objection period)
    "objection_decision_working_days",  # objection filed → decision due
    "repair_decision_working_days",  # repair application filed → decision due
)


class ListCatalogueError(Exception):
    pass


@dataclass(frozen=True)
class ProposalRule:
    """Records that propose an entry: a dataset, optionally some codes of a field, severities
    and a window of months before the day the rule runs."""

    dataset: str
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()
    severity: tuple[int, ...] = ()
    window_months: int | None = None

    def matches(self, record: Any, on: dt.date) -> bool:
        if record.dataset != self.dataset or record.decision_date is None:
            return False
        if record.decision_date > on:
            return False
        if self.window_months:
            from qualitycity.credit.scorecard import months_before

            if record.decision_date <= months_before(on, self.window_months):
                return False
        if self.severity and record.severity not in self.severity:
            return False
        data = record.data or {}
        return all(str(data.get(name)) in values for name, values in self.fields)


@dataclass(frozen=True)
class ListDef:
    code: str
    name_zh: str
    name_en: str
    kind: str
    field: str
    department: str
    legal_basis: str
    level: str | None = None
    valid_months: int | None = None
    rule: ProposalRule | None = None

    @property
    def is_red(self) -> bool:
        return self.kind == "red"

    def name(self, zh: bool = True) -> str:
        return self.name_zh if zh else self.name_en

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "kind": self.kind,
            "field": self.field,
            "department": self.department,
            "legal_basis": self.legal_basis,
            "level": self.level,
            "valid_months": self.valid_months,
            "proposal_rule": None
            if self.rule is None
            else {
                "dataset": self.rule.dataset,
                "fields": {k: list(v) for k, v in self.rule.fields},
                "severity": list(self.rule.severity),
                "window_months": self.rule.window_months,
            },
        }


@dataclass(frozen=True)
class Period:
    min_months: int
    max_months: int


@dataclass(frozen=True)
class PeriodRule:
    effective_from: dt.date
    reference: str
    levels: dict[str, Period]
    deadlines: dict[str, int] = field(default_factory=dict)
    unconfirmed: bool = False

    def deadline(self, name: str) -> int:
        """Working days of a deadline (``DEADLINES``)."""
        return self.deadlines[name]

    def as_dict(self) -> dict[str, Any]:
        return {
            "effective_from": self.effective_from.isoformat(),
            "reference": self.reference,
            "unconfirmed": self.unconfirmed,
            "levels": {
                k: {"min_months": v.min_months, "max_months": v.max_months}
                for k, v in self.levels.items()
            },
            "deadlines": dict(self.deadlines),
        }


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_lists(path: Path = CONFIG_DIR / "lists.yaml") -> dict[str, ListDef]:
    from qualitycity.core.models import Department
    from qualitycity.records.catalogue import catalogue

    known = catalogue().datasets
    departments = set(Department.objects.values_list("code", flat=True)) if _db_ready() else None
    out: dict[str, ListDef] = {}
    for entry in _load(path) or []:
        code = entry.get("code")
        where = f"{path.name}: list {code!r}"
        if not code or code in out:
            raise ListCatalogueError(f"{where}: missing or repeated code")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ListCatalogueError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if not entry.get("legal_basis"):
            raise ListCatalogueError(f"{where}: legal_basis is missing")
        if departments is not None and entry.get("department") not in departments:
            raise ListCatalogueError(f"{where}: unknown department {entry.get('department')!r}")
        level, valid = entry.get("level"), entry.get("valid_months")
        if kind == "red":
            if not isinstance(valid, int) or valid <= 0:
                raise ListCatalogueError(f"{where}: a red list needs valid_months")
        elif level not in LEVELS:
            raise ListCatalogueError(f"{where}: level must be one of {', '.join(LEVELS)}")
        rule = None
        if entry.get("rule"):
            raw = entry["rule"]
            ds = known.get(raw.get("dataset"))
            if ds is None:
                raise ListCatalogueError(f"{where}: unknown dataset {raw.get('dataset')!r}")
            fields = []
            for name, values in (raw.get("fields") or {}).items():
                try:
                    spec = ds.field(name)
                except KeyError:
                    raise ListCatalogueError(f"{where}: {ds.code} has no field {name!r}") from None
                values = [str(v) for v in (values if isinstance(values, list) else [values])]
                if spec.codelist and any(v not in spec.codes.values() for v in values):
                    raise ListCatalogueError(f"{where}: {values} not all codes of {spec.codelist}")
                fields.append((name, tuple(values)))
            rule = ProposalRule(
                dataset=ds.code,
                fields=tuple(fields),
                severity=tuple(raw.get("severity") or ()),
                window_months=raw.get("window_months"),
            )
        out[code] = ListDef(
            code=code,
            name_zh=entry["name_zh"],
            name_en=entry["name_en"],
            kind=kind,
            field=entry.get("field", ""),
            department=entry["department"],
            legal_basis=entry["legal_basis"],
            level=level if kind != "red" else None,
            valid_months=valid if kind == "red" else None,
            rule=rule,
        )
    return out


def _db_ready() -> bool:
    from django.db import connection

    try:
        return "core_department" in connection.introspection.table_names()
    except Exception:  # no database yet (e.g. collectstatic on a fresh machine)
        return False


def load_period_rules(path: Path = CONFIG_DIR / "periods.yaml") -> list[PeriodRule]:
    rules = []
    for raw in _load(path) or []:
        day = raw.get("effective_from")
        if not isinstance(day, dt.date):
            raise ListCatalogueError(f"{path.name}: effective_from must be a date")
        levels = {}
        for level, spec in (raw.get("levels") or {}).items():
            if level not in LEVELS:
                raise ListCatalogueError(f"{path.name} {day}: unknown level {level!r}")
            lo, hi = spec.get("min_months"), spec.get("max_months")
            if not (isinstance(lo, int) and isinstance(hi, int) and 0 <= lo <= hi and hi > 0):
                raise ListCatalogueError(f"{path.name} {day}: {level} needs 0 ≤ min ≤ max months")
            levels[level] = Period(lo, hi)
        deadlines = dict(raw.get("deadlines") or {})
        for name in DEADLINES:
            if name not in deadlines:
                raise ListCatalogueError(f"{path.name} {day}: deadlines.{name} is missing")
        for name, value in deadlines.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ListCatalogueError(
                    f"{path.name} {day}: deadlines.{name} must be a whole number of working days"
                )
        if not raw.get("reference"):
            raise ListCatalogueError(f"{path.name} {day}: reference is missing")
        rules.append(
            PeriodRule(
                effective_from=day,
                reference=raw.get("reference", ""),
                levels=levels,
                deadlines=deadlines,
                unconfirmed=bool(raw.get("unconfirmed")),
            )
        )
    rules.sort(key=lambda r: r.effective_from)
    if not rules:
        raise ListCatalogueError(f"{path.name}: no period rule")
    if len({r.effective_from for r in rules}) != len(rules):
        raise ListCatalogueError(f"{path.name}: two rules take effect on the same day")
    return rules


@functools.cache
def lists() -> dict[str, ListDef]:
    """The list catalogue, loaded once per process."""
    return load_lists()


@functools.cache
def period_rules() -> tuple[PeriodRule, ...]:
    return tuple(load_period_rules())


def get_list(code: str) -> ListDef:
    """The list with this code; raises NotFound (``unknown_list``)."""
    found = lists().get(code)
    if found is None:
        from qualitycity.core.errors import NotFound

        raise NotFound(
            f"Unknown list: {code}", code="unknown_list", details={"lists": sorted(lists())}
        )
    return found


def period_rule_on(day: dt.date) -> PeriodRule:
    """The period rule in force on ``day`` (the latest that took effect by then)."""
    rules = [r for r in period_rules() if r.effective_from <= day]
    if not rules:
        return period_rules()[0]
    return rules[-1]


def add_months(day: dt.date, months: int) -> dt.date:
    """The same calendar day ``months`` later (the month's last day when it has no such day)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class PublicationPeriod:
    """The dates an entry published on ``published_on`` gets, and the rule that gave them."""

    published_on: dt.date
    repair_allowed_from: dt.date | None
    publication_ends_on: dt.date
    rule: dict[str, Any]


def publication_period(list_def: ListDef, published_on: dt.date) -> PublicationPeriod:
    """Black and watch lists: the period of the list's level in the rule in force on the day of
    publication (repair from ``min_months``, end after ``max_months``); red lists: the list's
    ``valid_months``, no repair. Raises ``ListCatalogueError`` when the rule in force has no
    period for the list's level."""
    if list_def.is_red:
        months = list_def.valid_months or 0
        return PublicationPeriod(
            published_on=published_on,
            repair_allowed_from=None,
            publication_ends_on=add_months(published_on, months),
            rule={"kind": "red", "valid_months": months, "source": "lists.yaml"},
        )
    rule = period_rule_on(published_on)
    period = rule.levels.get(list_def.level or "")
    if period is None:
        raise ListCatalogueError(
            f"periods.yaml {rule.effective_from}: no period for level {list_def.level!r}"
        )
    return PublicationPeriod(
        published_on=published_on,
        repair_allowed_from=add_months(published_on, period.min_months),
        publication_ends_on=add_months(published_on, period.max_months),
        rule={
            "kind": list_def.kind,
            "level": list_def.level,
            "min_months": period.min_months,
            "max_months": period.max_months,
            "effective_from": rule.effective_from.isoformat(),
            "reference": rule.reference,
            "unconfirmed": rule.unconfirmed,
        },
    )
