"""The measures catalogue: joint reward and punishment measures as dated rules.

``config/measures.yaml`` names the business scenarios (市场准入, 政府采购, …) and the measures: each
is a reward or a punishment with its text, legal basis, implementing department, the scenarios it
applies to, the lists that trigger it and the days it is in force (``effective_from`` inclusive,
``effective_to`` exclusive, as for scorecards). A measure may have several dated versions under one
id (a new edition of its legal basis); they must not overlap. See ``docs/discipline.md``.

Loading validates the whole file against the list catalogue (``lists.catalogue.lists()``) and the
departments; a problem is refused with the file, the line and what is wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qualitycity.core import yamllines

CONFIG_PATH = Path(__file__).parent / "config" / "measures.yaml"
KINDS = ("punishment", "reward")
SUBJECT_KINDS = ("legal", "person")
ANY_DEPARTMENT = "any"
# A reward is for the trustworthy; a punishment follows a black or watch list.
KIND_LISTS = {"reward": ("red",), "punishment": ("black", "watch")}
_ID = re.compile(r"^[a-z][a-z0-9_]{1,59}$")


class MeasureCatalogueError(Exception):
    """A measures file that cannot be used: names the file, the line and the problem."""

    def __init__(self, path: Path | str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{Path(self.path).name}:{line}" if line else Path(self.path).name
        super().__init__(f"{where}: {message}")


# --- YAML with line numbers: qualitycity.core.yamllines ---------------------------------------

_Map = yamllines.LineMap


class _Reader:
    """Typed access to one mapping of the file, failing with the file and line."""

    def __init__(self, path: Path, node: Any, what: str):
        if not isinstance(node, _Map):
            raise MeasureCatalogueError(path, getattr(node, "line", None), f"{what}: not a mapping")
        self.path, self.node, self.what = path, node, what

    def fail(self, key: str | None, message: str) -> MeasureCatalogueError:
        line = self.node.key_lines.get(key, self.node.line) if key else self.node.line
        return MeasureCatalogueError(self.path, line, f"{self.what}: {message}")

    def only(self, allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        for key in self.node:
            if key not in allowed:
                raise self.fail(key, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def text(self, key: str) -> str:
        value = self.node.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise self.fail(None, f"{key!r} is missing")
        if not isinstance(value, str):
            raise self.fail(key, f"{key!r} must be text")
        return value.strip()

    def strings(self, key: str, *, required: bool = True) -> tuple[str, ...]:
        value = self.node.get(key)
        if value is None:
            if required:
                raise self.fail(None, f"{key!r} is missing")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"{key!r} must be a non-empty list of codes")
        if len(set(value)) != len(value):
            raise self.fail(key, f"{key!r} repeats a code")
        return tuple(value)

    def date(self, key: str, *, required: bool) -> dt.date | None:
        value = self.node.get(key)
        if value is None:
            if required:
                raise self.fail(None, f"{key!r} is missing")
            return None
        if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
            raise self.fail(key, f"{key!r} must be a date YYYY-MM-DD, not {value!r}")
        return value

    def flag(self, key: str) -> bool:
        value = self.node.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(key, f"{key!r} must be true or false")
        return value


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    code: str
    name_zh: str
    name_en: str

    def name(self, zh: bool = True) -> str:
        return self.name_zh if zh else self.name_en

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "name_zh": self.name_zh, "name_en": self.name_en}


@dataclass(frozen=True)
class Measure:
    """One dated version of a measure."""

    id: str
    kind: str
    text_zh: str
    text_en: str
    legal_basis: str
    department: str | None  # None: every department deciding in the scenario (各有关部门)
    scenarios: tuple[str, ...]
    lists: frozenset[str]
    subject_kinds: tuple[str, ...]
    effective_from: dt.date
    effective_to: dt.date | None  # exclusive
    unconfirmed: bool = False
    line: int = 0

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def text(self, zh: bool = True) -> str:
        return self.text_zh if zh else self.text_en

    @functools.cached_property
    def public(self) -> dict[str, Any]:
        """The measure as the check API gives it (without what triggered it)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "text_zh": self.text_zh,
            "text_en": self.text_en,
            "legal_basis": self.legal_basis,
            "department": self.department,
            "effective_from": self.effective_from.isoformat(),
            "effective_to": self.effective_to.isoformat() if self.effective_to else None,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.public,
            "scenarios": list(self.scenarios),
            "lists": sorted(self.lists),
            "subject_kinds": list(self.subject_kinds),
            "unconfirmed": self.unconfirmed,
        }


@dataclass(frozen=True)
class Catalogue:
    scenarios: dict[str, Scenario]
    measures: tuple[Measure, ...]
    digest: str  # changes with the measures file and with the list catalogue it refers to
    no_rewards_while_black_listed: bool = True
    path: str = ""
    _by_scenario: dict[str, tuple[Measure, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        order = {k: i for i, k in enumerate(KINDS)}
        for code in self.scenarios:
            found = [m for m in self.measures if code in m.scenarios]
            found.sort(key=lambda m: order[m.kind])  # punishments first, then file order
            self._by_scenario[code] = tuple(found)

    def ids(self) -> list[str]:
        return sorted({m.id for m in self.measures})

    def in_force(self, day: dt.date) -> list[Measure]:
        return [m for m in self.measures if m.in_force(day)]

    def get(self, measure_id: str, day: dt.date | None = None) -> Measure | None:
        """The version of a measure in force on ``day`` (or its latest version)."""
        versions = [m for m in self.measures if m.id == measure_id]
        if day is not None:
            versions = [m for m in versions if m.in_force(day)]
        return max(versions, key=lambda m: m.effective_from) if versions else None

    def applicable(
        self,
        *,
        scenario: str,
        day: dt.date,
        list_codes: Iterable[str],
        subject_kind: str | None = None,
        black_listed: bool = False,
    ) -> list[tuple[Measure, tuple[str, ...]]]:
        """Measures of ``scenario`` in force on ``day`` that the lists trigger, each with the
        lists (sorted) that triggered it. While the subject is on a black list no reward applies
        (``no_rewards_while_black_listed``)."""
        hit = set(list_codes)
        if not hit:
            return []
        out = []
        for measure in self._by_scenario.get(scenario, ()):
            if not measure.in_force(day):
                continue
            if subject_kind and subject_kind not in measure.subject_kinds:
                continue
            if measure.kind == "reward" and black_listed and self.no_rewards_while_black_listed:
                continue
            triggers = measure.lists & hit
            if triggers:
                out.append((measure, tuple(sorted(triggers))))
        return out


# --- loading ------------------------------------------------------------------------------------


def _db_ready() -> bool:
    from django.db import connection

    try:
        return "core_department" in connection.introspection.table_names()
    except Exception:  # no database yet (e.g. collectstatic on a fresh machine)
        return False


def _department_codes() -> set[str] | None:
    if not _db_ready():
        return None
    from qualitycity.core.models import Department

    codes = set(Department.objects.values_list("code", flat=True))
    return codes or None  # departments not synced yet: nothing to check against


def _list_files() -> list[Path]:
    from qualitycity.lists import catalogue as lists_catalogue

    return sorted(Path(lists_catalogue.CONFIG_DIR).glob("*.yaml"))


def load_catalogue(path: Path = CONFIG_PATH) -> Catalogue:
    """Read and validate a measures file; raises :class:`MeasureCatalogueError`."""
    from qualitycity.lists.catalogue import ListCatalogueError, lists

    path = Path(path)
    raw_bytes = path.read_bytes()
    try:
        doc = yamllines.load(raw_bytes.decode("utf-8"))
    except yamllines.YamlLineError as exc:
        message = (
            exc.message if "duplicate key" in exc.message else f"not valid YAML: {exc.message}"
        )
        raise MeasureCatalogueError(path, exc.line, message) from None
    top = _Reader(path, doc, "the file")
    top.only({"scenarios", "measures", "no_rewards_while_black_listed"})
    try:
        list_defs = lists()
    except ListCatalogueError as exc:
        raise MeasureCatalogueError(path, None, f"the list catalogue is invalid: {exc}") from exc
    departments = _department_codes()

    scenarios: dict[str, Scenario] = {}
    raw_scenarios = doc.get("scenarios")
    if not isinstance(raw_scenarios, list) or not raw_scenarios:
        raise top.fail("scenarios", "'scenarios' must be a non-empty list")
    for node in raw_scenarios:
        r = _Reader(path, node, "scenario")
        r.only({"code", "name_zh", "name_en"})
        code = r.text("code")
        if not _ID.match(code):
            raise r.fail("code", f"scenario code {code!r} must be lower-case letters, digits, _")
        if code in scenarios:
            raise r.fail("code", f"scenario {code!r} is defined twice")
        scenarios[code] = Scenario(code, r.text("name_zh"), r.text("name_en"))

    measures: list[Measure] = []
    raw_measures = doc.get("measures")
    if not isinstance(raw_measures, list) or not raw_measures:
        raise top.fail("measures", "'measures' must be a non-empty list")
    allowed = {
        "id",
        "kind",
        "text_zh",
        "text_en",
        "legal_basis",
        "department",
        "scenarios",
        "lists",
        "subjects",
        "effective_from",
        "effective_to",
        "unconfirmed",
    }
    for node in raw_measures:
        r = _Reader(path, node, "measure")
        ident = r.text("id")
        r.what = f"measure {ident!r}"
        r.only(allowed)
        if not _ID.match(ident):
            raise r.fail("id", "an id is lower-case letters, digits and _ (2-60 characters)")
        kind = r.text("kind")
        if kind not in KINDS:
            raise r.fail("kind", f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        department = r.text("department")
        if department == ANY_DEPARTMENT:
            dept: str | None = None
        elif departments is not None and department not in departments:
            raise r.fail("department", f"unknown department {department!r}")
        else:
            dept = department
        scen = r.strings("scenarios")
        unknown = [s for s in scen if s not in scenarios]
        if unknown:
            raise r.fail(
                "scenarios",
                f"unknown scenario(s) {', '.join(unknown)} (defined: {', '.join(scenarios)})",
            )
        triggers: set[str] = set()
        for code in r.strings("lists"):
            if code.startswith("kind:"):
                list_kind = code.removeprefix("kind:")
                found = {c for c, d in list_defs.items() if d.kind == list_kind}
                if not found:
                    raise r.fail("lists", f"no list of kind {list_kind!r}")
                triggers |= found
            elif code in list_defs:
                triggers.add(code)
            else:
                raise r.fail("lists", f"unknown list {code!r} (known: {', '.join(list_defs)})")
        wrong = sorted(c for c in triggers if list_defs[c].kind not in KIND_LISTS[kind])
        if wrong:
            raise r.fail(
                "lists",
                f"a {kind} cannot be triggered by {', '.join(wrong)} "
                f"(a {kind} follows {' or '.join(KIND_LISTS[kind])} lists)",
            )
        subject_kinds = r.strings("subjects", required=False) or SUBJECT_KINDS
        bad = [k for k in subject_kinds if k not in SUBJECT_KINDS]
        if bad:
            raise r.fail("subjects", f"subjects must be among {', '.join(SUBJECT_KINDS)}")
        start = r.date("effective_from", required=True)
        end = r.date("effective_to", required=False)
        if end is not None and end <= start:
            raise r.fail("effective_to", "'effective_to' must come after 'effective_from'")
        measures.append(
            Measure(
                id=ident,
                kind=kind,
                text_zh=r.text("text_zh"),
                text_en=r.text("text_en"),
                legal_basis=r.text("legal_basis"),
                department=dept,
                scenarios=scen,
                lists=frozenset(triggers),
                subject_kinds=tuple(subject_kinds),
                effective_from=start,
                effective_to=end,
                unconfirmed=r.flag("unconfirmed"),
                line=node.line,
            )
        )

    # Versions of one id: same kind, no overlap.
    by_id: dict[str, list[Measure]] = {}
    for m in measures:
        by_id.setdefault(m.id, []).append(m)
    for ident, versions in by_id.items():
        versions.sort(key=lambda m: m.effective_from)
        for earlier, later in zip(versions, versions[1:], strict=False):
            if later.kind != earlier.kind:
                raise MeasureCatalogueError(
                    path, later.line, f"measure {ident!r}: a new version cannot change its kind"
                )
            if earlier.effective_to is None or earlier.effective_to > later.effective_from:
                raise MeasureCatalogueError(
                    path,
                    later.line,
                    f"measure {ident!r}: the version from {later.effective_from} overlaps the "
                    f"version of line {earlier.line} (give that one an effective_to)",
                )

    flag = doc.get("no_rewards_while_black_listed", True)
    if not isinstance(flag, bool):
        raise top.fail("no_rewards_while_black_listed", "must be true or false")
    digest = hashlib.sha256(raw_bytes)
    for extra in _list_files():
        digest.update(extra.read_bytes())
    return Catalogue(
        scenarios=scenarios,
        measures=tuple(measures),
        digest=digest.hexdigest()[:12],
        no_rewards_while_black_listed=flag,
        path=str(path),
    )


@functools.cache
def catalogue() -> Catalogue:
    """The shipped catalogue, loaded once per process."""
    return load_catalogue(CONFIG_PATH)


def reset() -> None:
    """Forget the loaded catalogue (tests; a changed file is read again)."""
    catalogue.cache_clear()
