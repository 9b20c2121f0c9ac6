"""Scorecards: dated, versioned configuration that turns a subject's records into a class.

A scorecard is a YAML file in ``credit/scorecards/`` (see ``docs/scorecards.md`` for the format
and for how each shipped indicator follows from the plan and the national rules). Loading
validates every file completely: a problem is refused with the file, the line and what is wrong.

Pure Python and PyYAML; the ibis expression is built from these objects in ``compiler``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualitycity.core import yamllines

SCORECARD_DIR = Path(__file__).parent / "scorecards"

CLASSES = ("A", "B", "C", "D")
"""Risk classes, low to high: A low, B general, C higher, D high (SAMR 2022)."""

INDICATOR_KINDS = ("count", "exists", "sum", "age", "status")
POLARITIES = ("positive", "negative", "neutral")
SUBJECT_STATUSES = ("active", "revoked", "cancelled")
NUMERIC_TYPES = ("decimal", "integer")
CODE_TYPES = ("code", "string", "district", "industry", "subject_type")


class ScorecardError(Exception):
    """A scorecard file that cannot be used: names the file, the line and the problem."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {message}")


# --- YAML with line numbers: qualitycity.core.yamllines ---------------------------------------

_Map = yamllines.LineMap


class _Reader:
    """Typed access to a parsed mapping that fails with the file and line."""

    def __init__(self, path: Path, node: Any, what: str):
        if not isinstance(node, _Map):
            line = getattr(node, "line", None)
            raise ScorecardError(path, line, f"{what} must be a mapping")
        self.path, self.node, self.what = path, node, what

    def line(self, key: str | None = None) -> int:
        if key is not None and key in self.node.key_lines:
            return self.node.key_lines[key]
        return self.node.line

    def fail(self, key: str | None, message: str) -> ScorecardError:
        return ScorecardError(self.path, self.line(key), message)

    def only(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for key in self.node:
            if key not in allowed:
                raise self.fail(
                    key, f"{self.what}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"
                )

    def get(self, key: str, default: Any = None) -> Any:
        return self.node.get(key, default)

    def need(self, key: str) -> Any:
        value = self.node.get(key)
        if value is None or value == "":
            raise self.fail(None, f"{self.what}: {key!r} is missing")
        return value

    def text(self, key: str, *, required: bool = True) -> str:
        value = self.need(key) if required else self.get(key, "")
        if value is None:
            return ""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(key, f"{self.what}: {key!r} must be text")
        return str(value).strip()

    def number(self, key: str, *, required: bool = True, default: float | None = None) -> float:
        if key not in self.node or self.node[key] is None:
            if required:
                raise self.fail(None, f"{self.what}: {key!r} is missing")
            return default  # type: ignore[return-value]
        value = self.node[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"{self.what}: {key!r} must be a number, not {value!r}")
        return float(value)

    def positive_int(self, key: str, *, required: bool = False) -> int | None:
        if key not in self.node or self.node[key] is None:
            if required:
                raise self.fail(None, f"{self.what}: {key!r} is missing")
            return None
        value = self.node[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(key, f"{self.what}: {key!r} must be a whole number above 0")
        return value

    def date(self, key: str, *, required: bool = True) -> dt.date | None:
        value = self.node.get(key)
        if value is None:
            if required:
                raise self.fail(None, f"{self.what}: {key!r} is missing")
            return None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.fail(key, f"{self.what}: {key!r} must be a date YYYY-MM-DD, not {value!r}")
        return value

    def strings(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.node.get(key)
        if value is None:
            if required:
                raise self.fail(None, f"{self.what}: {key!r} is missing")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"{self.what}: {key!r} must be a non-empty list")
        return tuple(str(v) for v in value)


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordFilter:
    """Which records of a subject an indicator or override looks at."""

    datasets: tuple[str, ...]
    severity: tuple[int, ...] = ()
    polarity: tuple[str, ...] = ()
    fields: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, allowed values)
    window_months: int | None = None  # None: every record up to the as-of date

    def window_start(self, as_of: dt.date) -> dt.date | None:
        """Records decided after this date (and on or before ``as_of``) are in the window."""
        return months_before(as_of, self.window_months) if self.window_months else None

    def matches(self, record: Any, as_of: dt.date) -> bool:
        """The same test as the compiled expression, for one stored record (explanations)."""
        date = record.decision_date
        if date is None or date > as_of:
            return False
        start = self.window_start(as_of)
        if start is not None and date <= start:
            return False
        if record.dataset not in self.datasets:
            return False
        if self.severity and record.severity not in self.severity:
            return False
        if self.polarity and record.polarity not in self.polarity:
            return False
        data = record.data or {}
        return all(_text(data.get(name)) in values for name, values in self.fields)


@dataclass(frozen=True)
class Band:
    """Recency band: records decided within ``within_months`` of the as-of date count ``factor``."""

    within_months: int
    factor: float


@dataclass(frozen=True)
class AgeBand:
    below_years: int
    points: float


@dataclass(frozen=True)
class Indicator:
    id: str
    label_zh: str
    label_en: str
    kind: str
    basis: str
    points: float = 0.0
    cap: float | None = None
    filter: RecordFilter | None = None
    recency: tuple[Band, ...] = ()
    sum_field: str | None = None
    unit: float = 1.0
    age_bands: tuple[AgeBand, ...] = ()
    status_points: tuple[tuple[str, float], ...] = ()

    @property
    def uses_records(self) -> bool:
        return self.filter is not None

    def factor(self, decided: dt.date, as_of: dt.date) -> float:
        """The recency factor of a record decided on ``decided`` (1 without bands)."""
        if not self.recency:
            return 1.0
        for band in self.recency:
            if decided > months_before(as_of, band.within_months):
                return band.factor
        return 0.0


@dataclass(frozen=True)
class Override:
    id: str
    risk_class: str
    reason_zh: str
    reason_en: str
    filter: RecordFilter | None = None
    subject_status: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassRange:
    risk_class: str
    min: float  # inclusive
    below: float  # exclusive, except at the top of the scale


@dataclass(frozen=True)
class Scorecard:
    id: str
    version: str
    title_zh: str
    title_en: str
    effective_from: dt.date
    effective_to: dt.date | None  # exclusive
    reference: str
    subject_types: tuple[str, ...]
    base: float
    minimum: float
    maximum: float
    classes: tuple[ClassRange, ...]
    indicators: tuple[Indicator, ...]
    overrides: tuple[Override, ...] = ()
    path: str = field(default="", compare=False)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.version}"

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def class_for(self, score: float) -> str:
        for band in self.classes:
            if band.min <= score < band.below or (score == band.below == self.maximum):
                return band.risk_class
        raise ValueError(f"score {score} outside the scale of {self.key}")

    def indicator(self, ident: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == ident:
                return ind
        raise KeyError(ident)

    def override(self, ident: str) -> Override:
        for ov in self.overrides:
            if ov.id == ident:
                return ov
        raise KeyError(ident)

    def record_fields(self) -> dict[str, str]:
        """Data fields the expression reads: name → ``text`` (filters) or ``number`` (sums)."""
        out: dict[str, str] = {}
        filters = [i.filter for i in self.indicators] + [o.filter for o in self.overrides]
        for flt in filters:
            for name, _values in flt.fields if flt else ():
                out.setdefault(name, "text")
        for ind in self.indicators:
            if ind.sum_field:
                out[ind.sum_field] = "number"
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
            "reference": self.reference,
            "subject_types": list(self.subject_types),
        }


def months_before(day: dt.date, months: int) -> dt.date:
    """The same calendar day ``months`` earlier (the month's last day when it has no such day)."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# --- parsing ------------------------------------------------------------------------------------


def _filter(path: Path, node: Any, what: str, known: Any) -> RecordFilter:
    r = _Reader(path, node, what)
    r.only({"datasets", "severity", "polarity", "fields", "window_months"})
    datasets = r.strings("datasets")
    for code in datasets:
        ds = known.get(code)
        if ds is None:
            raise r.fail("datasets", f"{what}: unknown dataset {code!r}")
        if ds.is_registration:
            raise r.fail("datasets", f"{what}: {code!r} is a registration dataset, not records")
    severity: tuple[int, ...] = ()
    if r.get("severity") is not None:
        raw = r.get("severity")
        raw = raw if isinstance(raw, list) else [raw]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 3 for v in raw):
            raise r.fail("severity", f"{what}: 'severity' must list levels 0 to 3")
        severity = tuple(raw)
    polarity = r.strings("polarity", required=False)
    for p in polarity:
        if p not in POLARITIES:
            raise r.fail("polarity", f"{what}: unknown polarity {p!r}")
    fields: list[tuple[str, tuple[str, ...]]] = []
    if r.get("fields") is not None:
        fr = _Reader(path, r.get("fields"), f"{what}.fields")
        for name, values in fr.node.items():
            for code in datasets:
                ds = known[code]
                try:
                    spec = ds.field(name)
                except KeyError:
                    raise fr.fail(name, f"{what}: dataset {code!r} has no field {name!r}") from None
                if spec.type not in CODE_TYPES:
                    raise fr.fail(
                        name, f"{what}: field {name!r} of {code!r} is {spec.type}, not a code"
                    )
                if spec.codelist:
                    bad = [v for v in _as_list(values) if str(v) not in spec.codes.values()]
                    if bad:
                        raise fr.fail(
                            name,
                            f"{what}: {bad[0]!r} is not a code of {spec.codelist} "
                            f"({', '.join(sorted(set(spec.codes.values())))})",
                        )
            fields.append((str(name), tuple(str(v) for v in _as_list(values))))
    return RecordFilter(
        datasets=datasets,
        severity=severity,
        polarity=polarity,
        fields=tuple(fields),
        window_months=r.positive_int("window_months"),
    )


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _indicator(path: Path, node: Any, index: int, known: Any) -> Indicator:
    r = _Reader(path, node, f"indicators[{index}]")
    ident = r.text("id")
    r.what = f"indicator {ident!r}"
    kind = r.text("kind")
    if kind not in INDICATOR_KINDS:
        raise r.fail("kind", f"{r.what}: unknown kind {kind!r} ({', '.join(INDICATOR_KINDS)})")
    common = {"id", "kind", "label_zh", "label_en", "basis"}
    allowed = {
        "count": common | {"records", "points", "cap", "recency"},
        "exists": common | {"records", "points"},
        "sum": common | {"records", "field", "unit", "points", "cap"},
        "age": common | {"bands"},
        "status": common | {"map"},
    }[kind]
    r.only(allowed)
    out: dict[str, Any] = {
        "id": ident,
        "kind": kind,
        "label_zh": r.text("label_zh"),
        "label_en": r.text("label_en"),
        "basis": r.text("basis"),
    }
    if kind in ("count", "exists", "sum"):
        out["filter"] = _filter(path, r.need("records"), f"{r.what}.records", known)
        out["points"] = r.number("points")
    if kind in ("count", "sum") and r.get("cap") is not None:
        cap = r.number("cap")
        if cap <= 0:
            raise r.fail(
                "cap", f"{r.what}: 'cap' must be above 0 (it limits the points either way)"
            )
        out["cap"] = cap
    if kind == "count" and r.get("recency") is not None:
        bands = []
        seq = r.get("recency")
        if not isinstance(seq, list) or not seq:
            raise r.fail("recency", f"{r.what}: 'recency' must be a list of bands")
        last = 0
        for i, item in enumerate(seq):
            br = _Reader(path, item, f"{r.what}.recency[{i}]")
            br.only({"within_months", "factor"})
            months = br.positive_int("within_months", required=True)
            if months <= last:
                raise br.fail("within_months", f"{br.what}: bands must widen (after {last} months)")
            last = months
            factor = br.number("factor")
            if not 0 <= factor <= 1:
                raise br.fail("factor", f"{br.what}: 'factor' must be between 0 and 1")
            bands.append(Band(months, factor))
        window = out["filter"].window_months
        if window is None or window < last:
            raise r.fail("recency", f"{r.what}: the records window must cover the last band")
        out["recency"] = tuple(bands)
    if kind == "sum":
        name = r.text("field")
        for code in out["filter"].datasets:
            try:
                spec = known[code].field(name)
            except KeyError:
                raise r.fail("field", f"{r.what}: dataset {code!r} has no field {name!r}") from None
            if spec.type not in NUMERIC_TYPES:
                raise r.fail("field", f"{r.what}: field {name!r} of {code!r} is not a number")
        out["sum_field"] = name
        unit = r.number("unit", required=False, default=1.0)
        if unit <= 0:
            raise r.fail("unit", f"{r.what}: 'unit' must be above 0")
        out["unit"] = unit
    if kind == "age":
        seq = r.need("bands")
        if not isinstance(seq, list):
            raise r.fail("bands", f"{r.what}: 'bands' must be a list")
        bands_a, last = [], 0
        for i, item in enumerate(seq):
            br = _Reader(path, item, f"{r.what}.bands[{i}]")
            br.only({"below_years", "points"})
            years = br.positive_int("below_years", required=True)
            if years <= last:
                raise br.fail("below_years", f"{br.what}: bands must widen (after {last} years)")
            last = years
            bands_a.append(AgeBand(years, br.number("points")))
        out["age_bands"] = tuple(bands_a)
    if kind == "status":
        mr = _Reader(path, r.need("map"), f"{r.what}.map")
        pairs = []
        for status in mr.node:
            if status not in SUBJECT_STATUSES:
                raise mr.fail(status, f"{r.what}: unknown subject status {status!r}")
            pairs.append((status, mr.number(status)))
        out["status_points"] = tuple(pairs)
    return Indicator(**out)


def _override(path: Path, node: Any, index: int, known: Any) -> Override:
    r = _Reader(path, node, f"overrides[{index}]")
    r.only({"id", "class", "reason_zh", "reason_en", "records", "subject_status"})
    ident = r.text("id")
    r.what = f"override {ident!r}"
    risk_class = r.text("class")
    if risk_class not in CLASSES:
        raise r.fail("class", f"{r.what}: class must be one of {', '.join(CLASSES)}")
    flt = _filter(path, r.get("records"), f"{r.what}.records", known) if r.get("records") else None
    statuses = r.strings("subject_status", required=False)
    for s in statuses:
        if s not in SUBJECT_STATUSES:
            raise r.fail("subject_status", f"{r.what}: unknown subject status {s!r}")
    if (flt is None) == (not statuses):
        raise r.fail(None, f"{r.what}: give exactly one condition, 'records' or 'subject_status'")
    return Override(
        id=ident,
        risk_class=risk_class,
        reason_zh=r.text("reason_zh"),
        reason_en=r.text("reason_en"),
        filter=flt,
        subject_status=statuses,
    )


def _classes(r: _Reader, base: float, lo: float, hi: float) -> tuple[ClassRange, ...]:
    seq = r.need("classes")
    if not isinstance(seq, list):
        raise r.fail("classes", "'classes' must be a list")
    ranges = []
    for i, item in enumerate(seq):
        cr = _Reader(r.path, item, f"classes[{i}]")
        cr.only({"class", "min", "below"})
        cls = cr.text("class")
        if cls not in CLASSES:
            raise cr.fail("class", f"{cr.what}: class must be one of {', '.join(CLASSES)}")
        ranges.append(
            (
                cr,
                cls,
                cr.number("min", required=False, default=lo),
                cr.number("below", required=False, default=hi),
            )
        )
    seen = [cls for _, cls, _, _ in ranges]
    if sorted(seen) != sorted(set(seen)):
        raise r.fail("classes", "'classes' names a class twice")
    ordered = sorted(ranges, key=lambda t: t[2])
    cursor = lo
    for cr, cls, low, below in ordered:
        if low >= below:
            raise cr.fail(None, f"class {cls}: 'min' {low:g} is not below 'below' {below:g}")
        if low < cursor:
            raise cr.fail(None, f"class {cls}: [{low:g}, {below:g}) overlaps the class below it")
        if low > cursor:
            raise cr.fail(None, f"class {cls}: no class covers scores from {cursor:g} to {low:g}")
        cursor = below
    if cursor != hi:
        raise r.fail("classes", f"'classes' stop at {cursor:g}; the scale goes to {hi:g}")
    # Lower risk must mean a higher score: A at the top, D at the bottom.
    by_score = [cls for _, cls, _, _ in reversed(ordered)]
    if by_score != sorted(by_score):
        raise r.fail("classes", "classes must run from A (highest scores) down to D")
    return tuple(ClassRange(cls, low, below) for _, cls, low, below in ordered)


def parse_scorecard(path: Path, text: str | None = None, *, known: Any = None) -> Scorecard:
    """Parse and validate one scorecard file. Raises ScorecardError."""
    if known is None:
        from qualitycity.records.catalogue import catalogue

        known = catalogue().datasets
    if text is None:
        text = path.read_text(encoding="utf-8")
    try:
        node = yamllines.load(text)
    except yamllines.YamlLineError as exc:
        raise ScorecardError(path, exc.line, exc.message) from exc
    r = _Reader(path, node, "scorecard")
    r.only(
        {
            "id",
            "version",
            "title_zh",
            "title_en",
            "effective_from",
            "effective_to",
            "reference",
            "subject_types",
            "scale",
            "classes",
            "indicators",
            "overrides",
        }
    )
    ident = r.text("id")
    if not ident.replace("_", "").replace("-", "").isalnum():
        raise r.fail("id", "'id' may hold letters, digits, '-' and '_' only")
    reference = r.text("reference", required=False)
    if not reference:
        raise r.fail(None, "'reference' is missing: name the standard or legal rule followed")
    effective_from = r.date("effective_from")
    effective_to = r.date("effective_to", required=False)
    if effective_to is not None and effective_to <= effective_from:
        raise r.fail("effective_to", "'effective_to' must come after 'effective_from'")
    from qualitycity.subjects.codelists import SUBJECT_TYPES

    types = r.strings("subject_types")
    for t in types:
        if t not in SUBJECT_TYPES:
            raise r.fail("subject_types", f"unknown subject type {t!r}")
    sr = _Reader(path, r.need("scale"), "scale")
    sr.only({"base", "min", "max"})
    lo, hi, base = sr.number("min"), sr.number("max"), sr.number("base")
    if not lo <= base <= hi or lo >= hi:
        raise sr.fail(None, "scale: need min < max and base between them")
    classes = _classes(r, base, lo, hi)
    seq = r.need("indicators")
    if not isinstance(seq, list):
        raise r.fail("indicators", "'indicators' must be a list")
    indicators = tuple(_indicator(path, item, i, known) for i, item in enumerate(seq))
    ov_seq = r.get("overrides") or []
    if not isinstance(ov_seq, list):
        raise r.fail("overrides", "'overrides' must be a list")
    overrides = tuple(_override(path, item, i, known) for i, item in enumerate(ov_seq))
    ids = [i.id for i in indicators] + [o.id for o in overrides]
    for ident_ in ids:
        if not ident_.isidentifier() or not ident_.isascii():
            raise r.fail("indicators", f"id {ident_!r}: use lower-case letters, digits and '_'")
        if ids.count(ident_) > 1:
            raise r.fail("indicators", f"id {ident_!r} is used twice")
    return Scorecard(
        id=ident,
        version=r.text("version"),
        title_zh=r.text("title_zh"),
        title_en=r.text("title_en"),
        effective_from=effective_from,
        effective_to=effective_to,
        reference=reference,
        subject_types=types,
        base=base,
        minimum=lo,
        maximum=hi,
        classes=classes,
        indicators=indicators,
        overrides=overrides,
        path=str(path),
    )


def load_scorecards(directory: Path = SCORECARD_DIR) -> list[Scorecard]:
    """Every scorecard file of a directory, validated; versions of one id must not overlap."""
    cards = [parse_scorecard(p) for p in sorted(directory.glob("*.yaml"))]
    by_id: dict[str, list[Scorecard]] = {}
    for card in cards:
        by_id.setdefault(card.id, []).append(card)
    for ident, versions in by_id.items():
        versions.sort(key=lambda c: c.effective_from)
        for earlier, later in zip(versions, versions[1:], strict=False):
            if earlier.version == later.version:
                raise ScorecardError(later.path, None, f"{ident} version {later.version} twice")
            if earlier.effective_to is None or earlier.effective_to > later.effective_from:
                raise ScorecardError(
                    later.path,
                    None,
                    f"{ident} {later.version} takes effect on {later.effective_from} while "
                    f"{earlier.version} ({Path(earlier.path).name}) is still in force; give "
                    f"{earlier.version} an 'effective_to'",
                )
    return cards


@functools.cache
def scorecards() -> tuple[Scorecard, ...]:
    """The shipped scorecards, loaded once per process."""
    return tuple(load_scorecards())


def in_force(as_of: dt.date, ident: str | None = None) -> list[Scorecard]:
    """The scorecards in force on ``as_of`` (one version per id), optionally only ``ident``."""
    from qualitycity.core.errors import NotFound

    cards = [c for c in scorecards() if c.in_force(as_of) and (ident is None or c.id == ident)]
    if ident is not None and not any(c.id == ident for c in scorecards()):
        raise NotFound(f"Unknown scorecard: {ident}", code="unknown_scorecard")
    if not cards:
        raise NotFound(
            f"No scorecard{' ' + ident if ident else ''} is in force on {as_of.isoformat()}",
            code="no_scorecard_in_force",
            details={"as_of": as_of.isoformat()},
        )
    return cards


def find(ident: str, version: str) -> Scorecard | None:
    for card in scorecards():
        if card.id == ident and card.version == version:
            return card
    return None
