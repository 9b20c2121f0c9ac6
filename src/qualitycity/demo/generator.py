"""A deterministic synthetic Qingdao: market subjects and the departmental files about them.

``generate(out=DIR, options=GeneratorOptions(...))`` writes the departmental files, named
``<department>__<dataset>.<ext>``, plus ``manifest.json`` (the options, the files, the rows and
the intentional dirt of each file, when each was received, and the order in which to ingest
them). Two kinds of files, as on a real platform:

- ``history/<department>__<dataset>.<ext>``: everything decided before the live window (and all
  registrations), migrated into the platform once. Ingested with ``backfill=True``, so that it
  does not count for timeliness.
- ``live/<YYYY-MM-DD>/<department>__<dataset>.<ext>``: the last ``LIVE_WEEKS`` weeks as weekly
  drop folders, dated by that week's submission day (a Monday). A week's file holds what the
  department decided in the week before that day, plus a few stragglers decided weeks earlier;
  it is received that day plus a department-specific lag in working days
  (``SUBMISSION_HABITS``; ``manifest["files"][i]["received_at"]``), so that most departments
  submit within 7 working days and a few are habitually late. A week whose file would arrive
  after yesterday has not arrived yet: nothing is decided for it.

Determinism: every random choice comes from ``random.Random`` instances seeded from the options
(never from hash randomisation, the clock or set iteration), and XLSX files are re-zipped with
fixed timestamps, so the same options give byte-identical files.

Memory: subjects are not held as objects. One pass draws a few compact per-subject attributes
(type, industry, district, registration date, status, weights: about 20 bytes a subject in
``array``/``bytearray``); a subject's name, code and legal representative are re-derived on
demand from a per-subject generator (``Random(seed, index)``), with a bounded cache. Rows are
streamed to the files, so a million subjects and fifteen million records fit in well under a GB.

Ingestion order (``manifest["ingest_order"]``): the history first (market registrations and
practitioners, then the record files, then the civil-affairs and staffing registrations), then
the live files in the order they were received. Historical records about social organisations
and public institutions therefore arrive before their subjects are registered: they are
quarantined as ``unknown_subject`` and re-checked when the registration arrives (live files
come later and find them registered). A few records name valid codes of subjects registered
nowhere in Qingdao (firms from other cities); those stay in quarantine.
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import datetime as dt
import io
import json
import math
import random
import re
import shutil
import zipfile
import zlib
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml

from qualitycity.subjects.codelists import DISTRICTS
from qualitycity.subjects.identifiers import (
    USCC_ALPHABET,
    org_code_check_digit,
    resident_id_check_char,
    uscc_check_char,
)

from . import names as N

__all__ = [
    "DIRTY_KINDS",
    "EXPECTED_REASONS",
    "FILE_NAME_RE",
    "GeneratorOptions",
    "estimate_rows",
    "generate",
    "load_catalogue",
    "read_rows",
]

DEFAULT_SCALE = 20_000
DEFAULT_SEED = 2026
MAX_SCALE = 1_000_000
EARLIEST_DECISION = dt.date(2019, 1, 1)
FILE_NAME_RE = re.compile(
    r"^(?P<department>[a-z_]+)__(?P<dataset>[a-z_]+)\.(?P<ext>csv|xlsx|jsonl)$"
)

CATALOGUE_DIR = Path(__file__).resolve().parent.parent / "records" / "catalogue"

# Dirty kinds (the row is rejected) → the ingestion reason code it should produce.
EXPECTED_REASONS: dict[str, str] = {
    "bad_check": "bad_check",
    "o_for_0": "bad_characters",
    "unknown_subject": "unknown_subject",
    "name_mismatch": "name_mismatch",
    "missing_required": "missing_required",
    "bad_date": "bad_date",
    "future_date": "future_date",
    "bad_amount": "not_a_number",
    "bad_codelist": "not_in_codelist",
    "conflicting_duplicate": "duplicate_in_file",
}
DIRTY_KINDS = tuple(EXPECTED_REASONS)
# Variations that look odd but must be accepted (or counted, not rejected).
NOISE_KINDS = ("code_noise", "former_name", "exact_duplicate", "late_registrant")
CODE_DIRT = ("bad_check", "o_for_0")

# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GeneratorOptions:
    """What decides the generated files: same options, same bytes."""

    scale: int = DEFAULT_SCALE
    seed: int = DEFAULT_SEED
    today: dt.date = dataclasses.field(default_factory=dt.date.today)

    def __post_init__(self) -> None:
        if not 50 <= self.scale <= MAX_SCALE:
            raise ValueError(f"scale must be between 50 and {MAX_SCALE:,}")
        if self.today < dt.date(2020, 1, 1):
            raise ValueError("today must be 2020-01-01 or later")

    def as_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "seed": self.seed, "today": self.today.isoformat()}


@dataclasses.dataclass(frozen=True)
class LiveWindow:
    """The weekly submissions of the live window.

    ``weeks``: the submission days (Mondays), oldest first; the last is on or before yesterday.
    Week ``k``'s file holds the decisions of ``[weeks[k] - 7 days, weeks[k])`` plus stragglers.
    ``received``: per department, when each week's file was received (local time), or None
    when it would arrive after yesterday (not yet: nothing is decided for that week).
    """

    weeks: tuple[dt.date, ...]
    received: dict[str, tuple[dt.datetime | None, ...]]

    @property
    def start(self) -> dt.date:
        """The first decision date of the live window."""
        return self.weeks[0] - dt.timedelta(days=7)

    @property
    def last_decision(self) -> dt.date:
        """The last decision date a live file can hold (the day before the last week's)."""
        return self.weeks[-1] - dt.timedelta(days=1)

    def route(self, dept: str, day: dt.date, extra_weeks: int = 0) -> int:
        """Where a record decided on ``day`` goes: HISTORY, a week index, or SKIP (its file
        has not arrived yet). ``extra_weeks``: a straggler held back that many weeks."""
        k = (day - self.start).days // 7
        if k < 0 and not extra_weeks:
            return HISTORY
        k += extra_weeks
        if k < 0:
            return HISTORY
        if k >= len(self.weeks):
            return SKIP
        arrivals = self.received.get(dept)
        if arrivals is None or arrivals[k] is None:
            return SKIP
        return k


def live_window(options: GeneratorOptions, departments: list[str]) -> LiveWindow:
    """The live weeks before ``options.today`` and, per department, each week's receipt."""
    yesterday = options.today - dt.timedelta(days=1)
    last = yesterday - dt.timedelta(days=yesterday.weekday())
    weeks = tuple(last - dt.timedelta(days=7 * (LIVE_WEEKS - 1 - k)) for k in range(LIVE_WEEKS))
    received: dict[str, tuple[dt.datetime | None, ...]] = {}
    for dept in sorted(departments):
        rng = random.Random(f"qualitycity-demo/{options.seed}/live/{dept}")
        lags = SUBMISSION_HABITS.get(dept, DEFAULT_HABIT)[0]
        arrivals: list[dt.datetime | None] = []
        for day in weeks:
            on = _workdays_after(day, rng.choice(lags))
            at = dt.datetime.combine(on, dt.time(8, 30)) + dt.timedelta(minutes=rng.randrange(540))
            previous = next((a for a in reversed(arrivals) if a is not None), None)
            if previous is not None and at <= previous:  # a late week catches up with the next
                at = previous + dt.timedelta(minutes=1 + rng.randrange(30))
            arrivals.append(at if at.date() <= yesterday else None)
        received[dept] = tuple(arrivals)
    return LiveWindow(weeks, received)


# --------------------------------------------------------------------------------------------
# Catalogue (read straight from the YAML: it is the contract)
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def load_catalogue() -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """(datasets, codelists) as plain data from ``records/catalogue/*.yaml``."""
    datasets = yaml.safe_load((CATALOGUE_DIR / "datasets.yaml").read_text(encoding="utf-8"))
    codelists = yaml.safe_load((CATALOGUE_DIR / "codelists.yaml").read_text(encoding="utf-8"))
    return datasets, codelists


@lru_cache(maxsize=1)
def _departments() -> dict[str, dict[str, Any]]:
    path = Path(__file__).resolve().parent.parent / "core" / "config" / "departments.yaml"
    return {d["code"]: d for d in yaml.safe_load(path.read_text(encoding="utf-8"))}


# --------------------------------------------------------------------------------------------
# Plan: which files, how many rows, in which format
# --------------------------------------------------------------------------------------------

# Records per subject, per dataset, split over departments by weight.
DATASET_RATES: dict[str, float] = {
    "admin_licence": 6.2,
    "admin_penalty": 2.0,
    "inspection_result": 3.0,
    "social_insurance_arrears": 0.15,
    "court_enforcement": 0.04,
    "spot_check_result": 0.4,
    "food_safety_violation": 0.12,
    "work_safety_accident": 0.015,
    "environmental_penalty": 0.1,
    "ip_infringement_penalty": 0.06,
    "customs_aeo": 0.075,
    "honour": 0.15,
}
GENERIC_RATE = 0.05

DEPARTMENT_SHARES: dict[str, dict[str, int]] = {
    "admin_licence": {
        "market": 40,
        "transport": 6,
        "construction": 6,
        "health": 6,
        "environment": 5,
        "city_admin": 6,
        "agriculture": 4,
        "emergency": 4,
        "commerce": 5,
        "customs": 5,
        "hrss": 3,
        "education": 3,
        "development": 2,
    },
    "admin_penalty": {
        "market": 35,
        "tax": 20,
        "city_admin": 12,
        "emergency": 6,
        "environment": 4,
        "transport": 6,
        "construction": 5,
        "health": 4,
        "hrss": 3,
        "agriculture": 2,
        "ip": 1,
        "customs": 1,
        "commerce": 1,
        "education": 1,
        "development": 1,
    },
    "inspection_result": {
        "market": 45,
        "emergency": 10,
        "environment": 6,
        "health": 8,
        "construction": 6,
        "transport": 5,
        "city_admin": 10,
        "agriculture": 5,
        "commerce": 3,
    },
    "ip_infringement_penalty": {"ip": 60, "market": 40},
    "honour": {
        "market": 25,
        "science": 30,
        "hrss": 10,
        "commerce": 8,
        "agriculture": 10,
        "education": 7,
        "quality_office": 10,
    },
}

# How each department's system exports: (format, header style, code-list style, date style).
# Formats: csv (UTF-8), csv_bom (UTF-8 with BOM), csv_gb18030, xlsx, jsonl.
DEPARTMENT_PROFILES: dict[str, tuple[str, str, str, str]] = {
    "market": ("csv", "zh", "label", "-"),
    "tax": ("csv_gb18030", "zh", "label", "-"),
    "development": ("xlsx", "zh", "label", "-"),
    "commerce": ("csv_bom", "zh", "label", "/"),
    "emergency": ("csv_gb18030", "zh", "label", "-"),
    "ip": ("jsonl", "en", "code", "-"),
    "environment": ("csv_gb18030", "zh", "code", "-"),
    "health": ("csv_bom", "zh", "label", "-"),
    "construction": ("csv_bom", "zh", "label", "-"),
    "transport": ("csv", "en", "code", "-"),
    "hrss": ("csv_gb18030", "zh", "label", "/"),
    "education": ("csv_bom", "zh", "label", "-"),
    "science": ("xlsx", "zh", "label", "-"),
    "city_admin": ("jsonl", "en", "code", "-"),
    "customs": ("csv", "en", "code", "-"),
    "agriculture": ("csv_gb18030", "zh", "label", "年"),
    "court": ("jsonl", "en", "code", "-"),
    "civil_affairs": ("xlsx", "zh", "label", "-"),
    "staffing": ("csv_bom", "zh", "label", "/"),
    "quality_office": ("xlsx", "zh", "label", "-"),
}
PROFILE_OVERRIDES: dict[tuple[str, str], tuple[str, str, str, str]] = {
    ("market", "admin_penalty"): ("csv_bom", "zh", "label", "-"),
    ("market", "spot_check_result"): ("xlsx", "zh", "label", "-"),
    ("market", "food_safety_violation"): ("jsonl", "en", "code", "-"),
    ("market", "practitioner_registration"): ("xlsx", "zh", "label", "-"),
    ("construction", "practitioner_registration"): ("xlsx", "zh", "label", "-"),
    ("emergency", "work_safety_accident"): ("xlsx", "zh", "label", "-"),
}
# XLSX is written through openpyxl (write_only), about ten times slower than CSV: it is kept
# for the smaller files, as departments use spreadsheets for small exports.
# Files whose system exports the optional record version column (always 1 here: the engine
# takes a greater version as an update of a record stored by an earlier submission).
VERSIONED_FILES = {("market", "admin_penalty"), ("environment", "environmental_penalty")}
XLSX_MAX_ROWS = 1_000_000
EXTENSIONS = {
    "csv": "csv",
    "csv_bom": "csv",
    "csv_gb18030": "csv",
    "xlsx": "xlsx",
    "jsonl": "jsonl",
}
ENCODINGS = {"csv": "utf-8", "csv_bom": "utf-8-sig", "csv_gb18030": "gb18030"}

# The live window: weekly submissions of the last LIVE_WEEKS weeks (the rest is history).
LIVE_WEEKS = 8
HISTORY = -1  # route of a row: HISTORY, a live week (0 = oldest), or SKIP (not submitted yet)
SKIP = -2
# How each department submits its weekly file: the lag in working days between the week's
# submission day (Monday) and the file's receipt (one drawn per week), and the share of a
# file's records decided weeks earlier (stragglers). A week's records are 1-5 working days
# old on the submission day, so a lag of 3 or more makes some of them late (> 7 working days).
SUBMISSION_HABITS: dict[str, tuple[tuple[int, ...], float]] = {
    "market": ((0, 0, 0, 1, 1, 2), 0.01),
    "tax": ((0, 1, 1, 2), 0.02),
    "customs": ((0, 0, 1), 0.01),
    "court": ((0, 1, 2), 0.02),
    "environment": ((0, 1, 2, 2), 0.03),
    "health": ((0, 1, 2, 3), 0.04),
    "transport": ((0, 1, 2, 3), 0.04),
    "emergency": ((0, 1, 2, 3), 0.05),
    "ip": ((0, 1, 2, 3), 0.04),
    "commerce": ((1, 2, 3, 4), 0.06),
    "hrss": ((1, 2, 3, 4), 0.06),
    "education": ((1, 2, 3, 4), 0.06),
    "science": ((1, 2, 3, 5), 0.08),
    "civil_affairs": ((0, 1, 2, 3), 0.04),
    "staffing": ((0, 1, 2, 3), 0.04),
    "quality_office": ((0, 1, 2), 0.03),
    "agriculture": ((2, 3, 5, 7), 0.12),
    "construction": ((1, 2, 4, 6), 0.10),
    "development": ((2, 4, 6, 8), 0.15),
    "city_admin": ((3, 5, 8, 10), 0.20),
}
DEFAULT_HABIT: tuple[tuple[int, ...], float] = ((0, 1, 2, 3), 0.04)

DIRTY_RATE = 0.03
RECENT_SHARE = 0.04  # of decision dates drawn in the live window (and the weeks before it)
REGISTRATION_DIRTY_RATE = 0.005
NOISE_RATE = 0.02
UNKNOWN_SUBJECTS_SHARE = 0.12  # of the dirty rows of a record file

# Subject types, compactly.
ENT, IND, COOP, SOC, PUB, PER = range(6)
TYPE_CODES = (
    "enterprise",
    "individual_business",
    "farmers_coop",
    "social_organisation",
    "public_institution",
    "natural_person",
)
TYPE_MIX = ((ENT, 58), (IND, 24), (COOP, 3), (SOC, 3), (PUB, 4), (PER, 8))
MARKET_TYPES = (ENT, IND, COOP)
LEGAL_TYPES = (ENT, IND, COOP, SOC, PUB)
STATUS_CODES = ("active", "revoked", "cancelled")
DISTRICT_CODES = tuple(c for c in DISTRICTS if c != "370200")
DISTRICT_WEIGHTS = (14, 13, 18, 8, 9, 11, 10, 7, 6, 4)  # rough shares of market subjects
RURAL_DISTRICTS = ("370211", "370212", "370214", "370215", "370281", "370283", "370285")
PRACTITIONER_DEPTS = ("hrss", "health", "construction", "market")
LATE_REGISTRATIONS = ("social_org_registration", "public_institution_registration")
OTHER_CITIES = (
    ("370102", "济南"),
    ("370602", "烟台"),
    ("370702", "潍坊"),
    ("310115", "上海"),
    ("110105", "北京"),
    ("320505", "苏州"),
    ("330212", "宁波"),
)

# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _weighted(pairs: tuple[tuple[Any, int], ...]) -> tuple[list[Any], list[float]]:
    values = [v for v, _ in pairs]
    cum = list(accumulate(w for _, w in pairs))
    return values, cum


def _pick(rng: random.Random, table: tuple[list[Any], list[float]]) -> Any:
    values, cum = table
    return values[bisect.bisect_right(cum, rng.random() * cum[-1])]


def _district_short(code: str) -> str:
    name = DISTRICTS[code][0]
    return name[:-1]


def _district_prefix(code: str) -> str:
    """青岛市市南区 for districts, 胶州市 for county-level cities."""
    name = DISTRICTS[code][0]
    return name if name.endswith("市") else "青岛市" + name


def _workdays_after(day: dt.date, n: int) -> dt.date:
    while n > 0:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def _to_workday(rng: random.Random, day: dt.date) -> dt.date:
    wd = day.weekday()
    if wd >= 5 and rng.random() < 0.95:
        return day - dt.timedelta(days=wd - 4)
    return day


def _base31(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 31)
        out.append(USCC_ALPHABET[r])
    return "".join(reversed(out))


def make_uscc(prefix: str, division: str, org8: str) -> str:
    """A valid USCC from positions 1-2, the division code and the 8-character org code body."""
    first17 = prefix + division + org8 + org_code_check_digit(org8)
    return first17 + uscc_check_char(first17)


def make_resident_id(division: str, birth: dt.date, seq: int) -> str:
    first17 = f"{division}{birth:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_char(first17)


@lru_cache(maxsize=256)
def _authority(dept: str, district: str | None) -> tuple[str, str]:
    """(name, USCC) of a department or of its district branch."""
    depts = _departments()
    info = depts[dept]
    if district is None or dept not in N.DISTRICT_BRANCHES:
        code = info.get("uscc") or make_uscc("11", "370200", _org_from_name(info["name_zh"]))
        return info["name_zh"], code
    if dept == "environment":
        name = f"青岛市生态环境局{_district_short(district)}分局"
    else:
        name = _district_prefix(district) + N.DISTRICT_BRANCHES[dept]
    return name, make_uscc("11", district, _org_from_name(name))


def _org_from_name(name: str) -> str:
    # A stable 8-digit org code body for an authority (not seed-dependent: authorities are real).
    return f"{zlib.crc32(name.encode()) % 100_000_000:08d}"


# --------------------------------------------------------------------------------------------
# Subjects
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class SubjectInfo:
    index: int
    code: str
    name: str
    type: int
    district: str
    division: str
    legal_rep: str
    registered_on: dt.date
    status: str
    former_names: tuple[str, ...] = ()
    variant: int = 0
    qualification: str = ""


class City:
    """The subjects of the synthetic city: compact attributes plus on-demand details."""

    def __init__(self, options: GeneratorOptions):
        self.options = options
        self.n = options.scale
        self.seed = options.seed
        self.today = options.today
        rng = random.Random(f"qualitycity-demo/{options.seed}/subjects")
        n = self.n
        self.types = bytearray(n)
        self.divisions = bytearray(n)
        self.districts = bytearray(n)
        self.variants = bytearray(n)
        self.status = bytearray(n)
        self.flags = bytearray(n)  # 1 former name, 2 registration row is dirty, 4 reg noise
        self.reg_ord = array("i", bytes(4 * n))
        self.activity = array("f", bytes(4 * n))
        self.badness = array("f", bytes(4 * n))
        type_t = _weighted(TYPE_MIX)
        dist_t = _weighted(tuple(zip(range(len(DISTRICT_CODES)), DISTRICT_WEIGHTS, strict=True)))
        rural_t = _weighted(tuple((DISTRICT_CODES.index(c), 1) for c in RURAL_DISTRICTS))
        ent_ind = _weighted(N.ENTERPRISE_INDUSTRY_WEIGHTS)
        ind_ind = _weighted(N.INDIVIDUAL_INDUSTRY_WEIGHTS)
        coop_ind = _weighted(N.COOP_INDUSTRY_WEIGHTS)
        pub_t = _weighted(tuple((i, p[2]) for i, p in enumerate(N.PUBLIC_INSTITUTIONS)))
        today_ord = self.today.toordinal()
        start_1992 = dt.date(1992, 1, 1).toordinal()
        start_1960 = dt.date(1955, 1, 1).toordinal()
        for i in range(n):
            t = _pick(rng, type_t)
            self.types[i] = t
            if t in (COOP,):
                self.districts[i] = _pick(rng, rural_t)
            else:
                self.districts[i] = _pick(rng, dist_t)
            if t == ENT:
                div = _pick(rng, ent_ind)
            elif t == IND:
                div = _pick(rng, ind_ind)
            elif t == COOP:
                div = _pick(rng, coop_ind)
            elif t == SOC:
                kind = rng.random()
                if kind < 0.55:
                    self.variants[i], div = 51, "95"
                elif kind < 0.93:
                    j = rng.randrange(len(N.PRIVATE_NONPROFITS))
                    self.variants[i], div = 52, N.PRIVATE_NONPROFITS[j][1]
                else:
                    self.variants[i], div = 53, "95"
            elif t == PUB:
                j = _pick(rng, pub_t)
                self.variants[i], div = j, N.PUBLIC_INSTITUTIONS[j][1]
            else:
                self.variants[i] = rng.randrange(len(PRACTITIONER_DEPTS))
                div = "00"
            self.divisions[i] = int(div)
            # Registration date: skewed towards recent years (the post-2014 reform boom).
            if t == PER:
                lo = max(dt.date(1995, 1, 1).toordinal(), start_1960)
                x = rng.random() ** 0.6
            elif t in (SOC, PUB):
                lo = start_1992 - 3000
                x = rng.random() ** 0.8
            else:
                lo = start_1992
                x = rng.random() ** 0.45
            self.reg_ord[i] = lo + int(x * (today_ord - lo))
            r = rng.random()
            if t in (PER, PUB):
                status = 0 if r < 0.98 else 2
            elif t == IND:
                status = 0 if r < 0.84 else (1 if r < 0.88 else 2)
            else:
                status = 0 if r < 0.88 else (1 if r < 0.91 else 2)
            self.status[i] = status
            flags = 0
            if t == ENT and rng.random() < 0.04:
                flags |= 1
            r = rng.random()
            if r < REGISTRATION_DIRTY_RATE:
                flags |= 2
            elif r < REGISTRATION_DIRTY_RATE + NOISE_RATE:
                flags |= 4
            self.flags[i] = flags
            act = math.exp(rng.gauss(0.0, 1.15))
            if t == IND:
                act *= 0.35
            elif t == PER:
                act *= 0.5
            act *= (1.0, 0.45, 0.25)[status]
            self.activity[i] = 0.0 if flags & 2 else act
            self.badness[i] = math.exp(rng.gauss(0.0, 0.9))
        # Index lists per (type, division) for building sampling pools.
        self._by_key: dict[tuple[int, int], array] = {}
        for i in range(n):
            key = (self.types[i], self.divisions[i])
            lst = self._by_key.get(key)
            if lst is None:
                lst = self._by_key[key] = array("i")
            lst.append(i)
        # Bijections for codes: index → 6 base-31 characters / 8 digits / a birth slot.
        srng = random.Random(f"qualitycity-demo/{options.seed}/codes")
        self._m31 = 31**6
        self._a31 = srng.randrange(10**6, self._m31) // 31 * 31 + srng.randrange(1, 31)
        self._b31 = srng.randrange(self._m31)
        self._a10 = srng.randrange(10**6, 10**8) // 10 * 10 + srng.choice((1, 3, 7, 9))
        self._b10 = srng.randrange(10**8)
        self._birth0 = dt.date(1958, 1, 1)
        self._birth_days = (dt.date(2004, 12, 31) - self._birth0).days
        self._slots = self._birth_days * 1000
        a = srng.randrange(10**6, self._slots)
        while math.gcd(a, self._slots) != 1:
            a += 1
        self._aid, self._bid = a, srng.randrange(self._slots)
        self.detail = lru_cache(maxsize=50_000)(self._detail)
        self._surnames = _weighted(N.SURNAMES)

    # -- codes ---------------------------------------------------------------------------

    def _org8(self, i: int, new_style: bool) -> str:
        if new_style:
            return "MA" + _base31((self._a31 * i + self._b31) % self._m31, 6)
        return f"{(self._a10 * i + self._b10) % 10**8:08d}"

    def _person_id(self, i: int, division: str) -> tuple[str, bool]:
        slot = (self._aid * i + self._bid) % self._slots
        birth = self._birth0 + dt.timedelta(days=slot // 1000)
        seq = slot % 1000
        return make_resident_id(division, birth, seq), seq % 2 == 1

    # -- names ---------------------------------------------------------------------------

    def person_name(self, rng: random.Random, male: bool | None = None) -> str:
        if male is None:
            male = rng.random() < 0.55
        pool = N.GIVEN_MALE if male else N.GIVEN_FEMALE
        surname = _pick(rng, self._surnames)
        given = rng.choice(pool)
        if rng.random() < 0.7:
            given += rng.choice(pool)
        return surname + given

    def _trade(self, rng: random.Random) -> str:
        if rng.random() < 0.6:
            return rng.choice(N.TRADE_WORDS)
        return rng.choice(N.TRADE_CHARS_FIRST) + rng.choice(N.TRADE_CHARS_SECOND)

    def _enterprise_name(self, rng: random.Random, district: str, division: str) -> str:
        trade = self._trade(rng)
        words = N.INDUSTRY_WORDS.get(division, ("商贸",))
        word = rng.choice(words)
        suffix = _pick(rng, _SUFFIXES)
        r = rng.random()
        if r < 0.05:
            return f"{trade}{word}（青岛）{suffix}"
        if DISTRICTS[district][0].endswith("市") and r < 0.45:
            return f"{DISTRICTS[district][0]}{trade}{word}{suffix}"
        return f"青岛{trade}{word}{suffix}"

    def _name(self, rng: random.Random, t: int, district: str, division: str, variant: int) -> str:
        if t == ENT:
            return self._enterprise_name(rng, district, division)
        if t == IND:
            shops = N.SHOP_WORDS.get(division, ("经营部",))
            if rng.random() < 0.25:
                trade = rng.choice(N.SHOP_PERSONAL_PATTERNS).format(s=_pick(rng, self._surnames))
            else:
                trade = self._trade(rng)
            prefix = _district_prefix(district) if rng.random() < 0.6 else DISTRICTS[district][0]
            return f"{prefix}{trade}{rng.choice(shops)}"
        if t == COOP:
            county = DISTRICTS[district][0]
            town = rng.choice(N.TOWNS.get(district, ("",)))
            product = rng.choice(N.COOP_PRODUCTS.get(division, ("农业",)))
            county = county if county.endswith("市") else "青岛市" + county
            return f"{county}{town}{self._trade(rng)}{product}专业合作社"
        if t == SOC:
            if variant == 51:
                r = rng.random()
                if r < 0.6:
                    kind = rng.choice(("协会", "行业协会", "学会", "联合会"))
                    return f"青岛市{rng.choice(N.ASSOCIATION_TOPICS)}{kind}"
                if r < 0.8:
                    return f"青岛市{DISTRICTS[district][0]}{rng.choice(N.ASSOCIATION_TOPICS)}协会"
                return f"青岛{rng.choice(N.CHAMBER_ORIGINS)}商会"
            if variant == 53:
                return f"青岛市{self._trade(rng)}{rng.choice(N.FOUNDATION_TOPICS)}基金会"
            kind = rng.choice([k for k, d in N.PRIVATE_NONPROFITS if d == division] or ["服务中心"])
            return f"{_district_prefix(district)}{self._trade(rng)}{kind}"
        pattern = N.PUBLIC_INSTITUTIONS[variant][0]
        street = rng.choice(N.STREETS.get(district, ("中心",)))
        return pattern.format(d=DISTRICTS[district][0], s=street, n=rng.randint(1, 68))

    def _detail(self, i: int) -> SubjectInfo:
        rng = random.Random(self.seed * 10_000_019 + i)
        t = self.types[i]
        district = DISTRICT_CODES[self.districts[i]]
        division = f"{self.divisions[i]:02d}"
        variant = self.variants[i]
        reg = dt.date.fromordinal(self.reg_ord[i])
        status = STATUS_CODES[self.status[i]]
        if t == PER:
            code, male = self._person_id(i, district)
            name = self.person_name(rng, male)
            dept = PRACTITIONER_DEPTS[variant]
            qual = rng.choice(N.QUALIFICATIONS[dept])
            return SubjectInfo(i, code, name, t, district, "", name, reg, status, (), variant, qual)
        prefix = {ENT: "91", IND: "92", COOP: "93", PUB: "12"}.get(t) or str(variant)
        new_style = reg >= dt.date(2015, 10, 1) or t in (IND, COOP)
        code = make_uscc(prefix, district, self._org8(i, new_style))
        name = self._name(rng, t, district, division, variant)
        former: tuple[str, ...] = ()
        if self.flags[i] & 1:
            former = (self._name(rng, t, district, division, variant),)
            if former[0] == name:
                former = ()
        legal_rep = self.person_name(rng)
        return SubjectInfo(
            i, code, name, t, district, division, legal_rep, reg, status, former, variant
        )

    def unknown_subject(self, j: int) -> SubjectInfo:
        """A valid code of a firm registered outside Qingdao (never in any registration file)."""
        rng = random.Random(self.seed * 10_000_019 + self.n + j)
        division_code, city = OTHER_CITIES[j % len(OTHER_CITIES)]
        div = _pick(rng, _ENT_INDUSTRIES)
        code = make_uscc("91", division_code, self._org8(self.n + j, True))
        trade = self._trade(rng)
        name = f"{city}{trade}{rng.choice(N.INDUSTRY_WORDS.get(div, ('商贸',)))}有限公司"
        return SubjectInfo(
            self.n + j,
            code,
            name,
            ENT,
            "370200",
            div,
            self.person_name(rng),
            dt.date(2018, 1, 1),
            "active",
        )

    # -- pools ---------------------------------------------------------------------------

    def pool(self, types: tuple[int, ...], divisions: tuple[int, ...] | None, mode: str):
        """(indices, cumulative weights) of the subjects of these types and divisions."""
        idx = array("i")
        for t in types:
            keys = sorted(k for k in self._by_key if k[0] == t)
            for key in keys:
                if divisions is None or key[1] in divisions:
                    idx.extend(self._by_key[key])
        act, bad = self.activity, self.badness
        if mode == "neg":
            weights = (act[i] * bad[i] for i in idx)
        elif mode == "pos":
            weights = (act[i] / bad[i] for i in idx)
        else:
            weights = (act[i] for i in idx)
        cum = array("d", accumulate(weights))
        return idx, cum


_SUFFIXES = _weighted(N.ENTERPRISE_SUFFIXES)
_ENT_INDUSTRIES = _weighted(N.ENTERPRISE_INDUSTRY_WEIGHTS)


@lru_cache(maxsize=512)
def _divs(spec: str) -> tuple[int, ...] | None:
    return tuple(sorted(int(d) for d in spec.split())) if spec.strip() else None


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


class _Writer:
    def __init__(
        self,
        path: Path,
        fmt: str,
        fields: list[dict],
        header: str,
        date_style: str,
        versioned: bool,
        today: dt.date,
    ):
        self.path = path
        self.fmt = fmt
        self.names = [f["name"] for f in fields] + (["version"] if versioned else [])
        self.types = {f["name"]: f["type"] for f in fields}
        if header == "en":
            self.header = list(self.names)
        else:
            self.header = [f["label_zh"] for f in fields] + (["版本号"] if versioned else [])
        self.date_style = date_style
        self.today = today
        self.rows = 0
        if fmt == "xlsx":
            import openpyxl

            self._wb = openpyxl.Workbook(write_only=True)
            self._ws = self._wb.create_sheet("Sheet1")
            self._ws.append(self.header)
        else:
            encoding = ENCODINGS.get(fmt, "utf-8")
            self._fh = open(path, "w", encoding=encoding, newline="")  # noqa: SIM115
            if fmt != "jsonl":
                terminator = "\r\n" if fmt == "csv_gb18030" else "\n"
                self._csv = csv.writer(self._fh, lineterminator=terminator)
                self._csv.writerow(self.header)

    def _fmt_date(self, d: dt.date) -> str:
        if self.date_style == "/":
            return f"{d.year}/{d.month:02d}/{d.day:02d}"
        if self.date_style == "年":
            return f"{d.year}年{d.month}月{d.day}日"
        return d.isoformat()

    def write(self, row: dict[str, Any]) -> None:
        self.rows += 1
        if self.fmt == "jsonl":
            obj = {}
            for key, name in zip(self.header, self.names, strict=True):
                v = row.get(name)
                if isinstance(v, dt.date):
                    v = self._fmt_date(v)
                elif isinstance(v, Decimal):
                    v = float(v) if v == v.normalize() and abs(v) < 10**12 else str(v)
                obj[key] = v
            self._fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            return
        cells: list[Any] = []
        for name in self.names:
            v = row.get(name)
            if v is None:
                cells.append("" if self.fmt != "xlsx" else None)
            elif isinstance(v, dt.date):
                cells.append(v if self.fmt == "xlsx" else self._fmt_date(v))
            elif isinstance(v, Decimal):
                cells.append(float(v) if self.fmt == "xlsx" else str(v))
            else:
                cells.append(v)
        if self.fmt == "xlsx":
            self._ws.append(cells)
        else:
            self._csv.writerow(cells)

    def close(self) -> None:
        if self.fmt == "xlsx":
            tmp = self.path.with_suffix(".tmp.xlsx")
            self._wb.save(tmp)
            _normalise_xlsx(tmp, self.path, self.today)
            tmp.unlink()
        else:
            self._fh.close()


_CORE_DATES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)")


def _normalise_xlsx(src: Path, dst: Path, today: dt.date) -> None:
    """Re-zip with fixed timestamps so that the bytes depend on the content only."""
    stamp = (today.year, today.month, today.day, 0, 0, 0)
    iso = f"{today.isoformat()}T00:00:00Z".encode()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            out = zipfile.ZipInfo(info.filename, date_time=stamp)
            out.compress_type = zipfile.ZIP_DEFLATED
            out.external_attr = 0o600 << 16
            if info.filename == "docProps/core.xml":
                data = _CORE_DATES.sub(lambda m: m[1] + iso + m[3], zin.read(info))
                zout.writestr(out, data)
                continue
            with zin.open(info) as fin, zout.open(out, "w") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)


# --------------------------------------------------------------------------------------------
# Reading back (tests, manifest checks)
# --------------------------------------------------------------------------------------------


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The data rows of a generated file as {header cell: value} (values as written)."""
    path = Path(path)
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)
        return
    if path.suffix == ".xlsx":
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True)
        rows = wb.active.iter_rows(values_only=True)
        header = next(rows)
        for r in rows:
            yield dict(zip(header, r, strict=False))
        wb.close()
        return
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        text = raw[3:].decode("utf-8")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("gb18030")
    yield from csv.DictReader(io.StringIO(text))


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FilePlan:
    department: str
    dataset: dict[str, Any]
    rows: int
    fmt: str
    header: str
    codes: str
    date_style: str

    @property
    def name(self) -> str:
        return f"{self.department}__{self.dataset['code']}.{EXTENSIONS[self.fmt]}"


def _plan(options: GeneratorOptions) -> list[FilePlan]:
    datasets, _ = load_catalogue()
    n = options.scale
    plans: list[FilePlan] = []
    for ds in datasets:
        code = ds["code"]
        depts = list(ds["departments"])
        if ds["kind"] == "registration":
            share = {
                "enterprise_registration": 0.85,
                "social_org_registration": 0.03,
                "public_institution_registration": 0.04,
            }.get(code)
            if code == "practitioner_registration":
                counts = {d: round(n * 0.08 / len(PRACTITIONER_DEPTS)) for d in depts}
            else:
                counts = {d: round(n * (share or GENERIC_RATE)) // len(depts) for d in depts}
        elif code == "tax_rating":
            counts = {d: round(n * 0.58 * 0.45 * 5.5) for d in depts}
        else:
            total = DATASET_RATES.get(code, GENERIC_RATE) * n
            weights = DEPARTMENT_SHARES.get(code) or dict.fromkeys(depts, 1)
            known = [d for d in depts if d in weights] or depts
            wsum = sum(weights.get(d, 1) for d in known)
            counts = {d: round(total * weights.get(d, 1) / wsum) for d in known}
        for dept in depts:
            if dept not in counts:
                continue
            rows = max(counts[dept], 3)
            profile = PROFILE_OVERRIDES.get((dept, code)) or DEPARTMENT_PROFILES.get(
                dept, ("csv", "zh", "label", "-")
            )
            fmt, header, codes, date_style = profile
            if fmt == "xlsx" and rows > XLSX_MAX_ROWS // 2:
                fmt = "csv_bom"
            plans.append(FilePlan(dept, ds, rows, fmt, header, codes, date_style))
    return plans


def estimate_rows(options: GeneratorOptions) -> int:
    """About how many data rows :func:`generate` writes (for progress bars)."""
    return sum(p.rows for p in _plan(options))


def ingest_order(files: list[dict[str, Any]]) -> list[str]:
    """The history (registrations of market subjects and practitioners, records, then late
    registrations), then the live files in the order they were received."""

    def rank(f: dict[str, Any]) -> tuple[int, str, str]:
        if not f.get("backfill"):
            return (3, f["received_at"] or "", f["file"])
        m = FILE_NAME_RE.match(f.get("name") or Path(f["file"]).name)
        ds = m["dataset"] if m else ""
        if ds in LATE_REGISTRATIONS:
            return (2, "", f["file"])
        if ds.endswith("_registration"):
            return (0, "", f["file"])
        return (1, "", f["file"])

    return [f["file"] for f in sorted(files, key=rank)]


class _FileContext:
    """Per-file state: the plan, the rng, pools, counters, recent rows, dirt tallies."""

    def __init__(self, gen: Generator, plan: FilePlan):
        self.gen = gen
        self.city = gen.city
        self.plan = plan
        self.dept = plan.department
        self.ds = plan.dataset
        self.code = self.ds["code"]
        self.fields = {f["name"]: f for f in self.ds["fields"]}
        self.keys = self.ds["keys"]
        self.rng = random.Random(f"qualitycity-demo/{gen.options.seed}/{plan.name}")
        self.pools: dict[tuple, tuple[array, array]] = {}
        self.counters: Counter = Counter()
        self.recent: deque[dict[str, Any]] = deque(maxlen=500)  # of the current row's file
        self.code_lists = gen.codelists
        self.versioned = (self.dept, self.code) in VERSIONED_FILES
        self.straggle = SUBMISSION_HABITS.get(self.dept, DEFAULT_HABIT)[1]
        self.last_subject: SubjectInfo | None = None
        self.route: int | None = None  # of the last decision date drawn (see LiveWindow.route)

    # -- sampling ------------------------------------------------------------------------

    def subject(
        self, types: tuple[int, ...], divisions: tuple[int, ...] | None, mode: str = "neu"
    ) -> SubjectInfo | None:
        key = (types, divisions, mode)
        pool = self.pools.get(key)
        if pool is None:
            pool = self.pools[key] = self.city.pool(types, divisions, mode)
        idx, cum = pool
        if not idx or cum[-1] <= 0:
            if divisions is not None:
                return self.subject(types, None, mode)
            return None
        pos = bisect.bisect_right(cum, self.rng.random() * cum[-1])
        self.last_subject = self.city.detail(idx[min(pos, len(idx) - 1)])
        return self.last_subject

    def decision_date(self, not_before: dt.date | None = None) -> dt.date:
        """A decision date in 2019..the live window's end with rising density, on a working
        day, that the department has submitted by now; ``self.route`` says in which file
        (history, a live week, or SKIP when no date fits: the row is then not written).

        A few records are stragglers: submitted some weeks after the week they belong to."""
        rng = self.rng
        live = self.gen.live
        last = live.last_decision
        lo = max(EARLIEST_DECISION, not_before or EARLIEST_DECISION)
        if lo > last:
            lo = last
        span = (last - lo).days
        window = (last - live.start).days + 14
        c = 1.2
        for _ in range(12):
            if rng.random() < RECENT_SHARE and span > window:
                # The live window, where the departments' delays show (timeliness).
                day = _to_workday(rng, last - dt.timedelta(days=rng.randint(0, window)))
            else:
                u = rng.random()
                x = (-1 + math.sqrt(1 + 2 * c * u * (1 + c / 2))) / c
                day = _to_workday(rng, lo + dt.timedelta(days=int(x * span)))
            if day < lo:
                day = lo
            extra = 0
            if rng.random() < self.straggle:
                extra = 1 + min(int(rng.expovariate(0.6)), 6)
            route = live.route(self.dept, day, extra)
            if route != SKIP:
                self.route = route
                return day
        self.route = live.route(self.dept, lo)
        return lo

    def record_no(self, pattern: str, year: int) -> str:
        self.counters[year] += 1
        return pattern.format(
            y=year, n=self.counters[year], abbr=N.DEPARTMENT_ABBR.get(self.dept, "青")
        )

    def code_value(self, codelist: str, code: str) -> str:
        if self.plan.codes == "label" and self.rng.random() > 0.05:
            return self.code_lists[codelist][code]
        return code

    def authority(self, s: SubjectInfo) -> tuple[str, str]:
        district = s.district if self.rng.random() < 0.45 and s.district in DISTRICTS else None
        return _authority(self.dept, district)


class Generator:
    def __init__(self, options: GeneratorOptions):
        self.options = options
        self.city = City(options)
        _, self.codelists = load_catalogue()
        self.live = live_window(options, list(_departments()))

    # -- registration rows -----------------------------------------------------------------

    def _registration_rows(self, ctx: _FileContext) -> Iterator[tuple[dict, str | None]]:
        city = self.city
        code = ctx.code
        want = {
            "enterprise_registration": MARKET_TYPES,
            "social_org_registration": (SOC,),
            "public_institution_registration": (PUB,),
            "practitioner_registration": (PER,),
        }.get(code)
        if want is None:
            yield from self._generic_rows(ctx)
            return
        dept_variant = (
            PRACTITIONER_DEPTS.index(ctx.dept) if code == "practitioner_registration" else None
        )
        for i in range(city.n):
            if city.types[i] not in want:
                continue
            if dept_variant is not None and city.variants[i] != dept_variant:
                continue
            s = ctx.last_subject = city.detail(i)
            if code == "practitioner_registration":
                row = {
                    "person_name": s.name,
                    "resident_id": s.code,
                    "qualification": s.qualification,
                    "district": s.district if ctx.rng.random() < 0.9 else None,
                    "qualified_on": s.registered_on,
                }
            else:
                row = {
                    "subject_name": s.name,
                    "subject_code": s.code,
                    "legal_representative": s.legal_rep,
                    "district": s.district
                    if ctx.plan.codes == "code" or ctx.rng.random() < 0.7
                    else DISTRICTS[s.district][0],
                    "registered_on": s.registered_on,
                    "status": ctx.code_value("subject_status", s.status),
                }
                if code == "enterprise_registration":
                    t = TYPE_CODES[s.type]
                    row["subject_type"] = _subject_type_label(t) if ctx.plan.codes == "label" else t
                    row["industry"] = (
                        s.division if ctx.rng.random() < 0.8 else _industry_with_section(s.division)
                    )
                    row["former_names"] = "；".join(s.former_names) or None
            flags = city.flags[i]
            if flags & 2:
                yield row, "registration_dirty"
            elif flags & 4:
                yield row, "code_noise"
            else:
                yield row, None

    # -- record rows ---------------------------------------------------------------------

    def _record_rows(self, ctx: _FileContext) -> Iterator[tuple[dict, str | None]]:
        builder = getattr(self, f"_row_{ctx.code}", None)
        if ctx.code == "tax_rating":
            yield from self._tax_rows(ctx)
            return
        if builder is None:
            yield from self._generic_rows(ctx)
            return
        made = 0
        attempts = 0
        while made < ctx.plan.rows and attempts < ctx.plan.rows * 3:
            attempts += 1
            row = builder(ctx)
            if row is None:
                continue
            made += 1
            yield row, None

    def _tax_rows(self, ctx: _FileContext) -> Iterator[tuple[dict, str | None]]:
        city = self.city
        today = self.options.today
        grades = _weighted((("A", 30), ("B", 45), ("M", 10), ("C", 10), ("D", 5)))
        last_year = today.year - 1 if today >= dt.date(today.year, 4, 30) else today.year - 2
        rng = ctx.rng
        for i in range(city.n):
            if city.types[i] != ENT or city.flags[i] & 2:
                continue
            reg = dt.date.fromordinal(city.reg_ord[i])
            base = _pick(rng, grades)
            s = None
            for year in range(2019, last_year + 1):
                if reg.year > year or rng.random() > 0.45:
                    continue
                grade = base if rng.random() < 0.75 else _pick(rng, grades)
                if year == reg.year and rng.random() < 0.7:
                    grade = "M"
                s = ctx.last_subject = s or city.detail(i)
                rated = _to_workday(rng, dt.date(year + 1, 4, rng.randint(1, 28)))
                yield (
                    {
                        "subject_name": s.name,
                        "subject_code": s.code,
                        "rating_id": ctx.record_no("{y}PJ{n:08d}", year),
                        "year": year,
                        "grade": ctx.code_value("tax_grade", grade),
                        "rated_on": rated,
                    },
                    None,
                )

    def _generic_rows(self, ctx: _FileContext) -> Iterator[tuple[dict, str | None]]:
        """Rows for a dataset this generator has no specific knowledge of: from the schema."""
        rng = ctx.rng
        legal = ctx.fields.get(ctx.keys["subject_code"], {}).get("type") != "resident_id"
        for _ in range(ctx.plan.rows):
            s = ctx.subject(MARKET_TYPES if legal else (PER,), None)
            if s is None:
                return
            d = ctx.decision_date(s.registered_on)
            row: dict[str, Any] = {}
            for name, f in ctx.fields.items():
                t = f["type"]
                if name == ctx.keys["subject_code"]:
                    row[name] = s.code
                elif name == ctx.keys["subject_name"]:
                    row[name] = s.name
                elif name == ctx.keys["record_id"]:
                    row[name] = ctx.record_no("{abbr}〔{y}〕{n}号", d.year)
                elif t == "date":
                    row[name] = d
                elif t == "code":
                    row[name] = ctx.code_value(
                        f["codelist"], rng.choice(list(self.codelists[f["codelist"]]))
                    )
                elif t == "decimal":
                    row[name] = Decimal(rng.choice(N.FINE_AMOUNTS)[0])
                elif t == "integer":
                    lo = int(f.get("min", 0) or 0)
                    row[name] = lo + rng.randint(0, 10)
                elif t == "district":
                    row[name] = s.district
                elif t == "industry":
                    row[name] = s.division
                elif t == "subject_type":
                    row[name] = TYPE_CODES[s.type]
                elif t in ("person_name",):
                    row[name] = s.legal_rep
                elif t == "uscc":
                    row[name] = _authority(ctx.dept, None)[1]
                elif f.get("required"):
                    row[name] = ctx.ds["name_zh"]
            yield row, None

    # Record builders: one per dataset code. They return a row dict (values typed).

    def _row_admin_licence(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        options = N.LICENCES.get(ctx.dept) or ((ctx.ds["name_zh"], "", "", 3, 1),)
        lic = _pick(rng, _weighted(tuple((x, x[4]) for x in options)))
        name, content, divs, years, _ = lic
        divisions = _divs(divs)
        types = (
            MARKET_TYPES
            if divisions is None
            else (ENT, IND, COOP, SOC) + ((PUB,) if ctx.dept in ("health", "city_admin") else ())
        )
        s = ctx.subject(types, divisions)
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        auth_name, auth_code = ctx.authority(s)
        if name == "食品经营许可证":
            no = f"JY{'2' if s.type == IND else '1'}{s.district}{ctx.counters['jy'] + 1:07d}"
            ctx.counters["jy"] += 1
        else:
            no = ctx.record_no("{abbr}许准〔{y}〕{n}号", d.year)
        valid_from = d + dt.timedelta(days=rng.choice((0, 0, 0, 1, 3)))
        valid_to = None
        if years:
            valid_to = dt.date(
                valid_from.year + years, valid_from.month, min(valid_from.day, 28)
            ) - dt.timedelta(days=1)
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "legal_representative": s.legal_rep if rng.random() < 0.9 else None,
            "licence_no": no,
            "licence_name": name,
            "licence_content": content or None,
            "decision_date": d,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "authority": auth_name,
            "authority_code": auth_code,
        }

    def _row_admin_penalty(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        options = N.PENALTIES.get(ctx.dept) or ((ctx.ds["name_zh"], "相关法律法规", "", 1),)
        violation, basis, divs, _ = _pick(rng, _weighted(tuple((x, x[3]) for x in options)))
        s = ctx.subject(MARKET_TYPES, _divs(divs), "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        category = _pick(rng, _PENALTY_CATEGORIES)
        fine = None
        confiscated = None
        if category in (
            "fine",
            "confiscate_gains",
            "confiscate_property",
            "suspend_business",
            "revoke_licence",
            "revoke_business_licence",
        ):
            fine = _fine(rng, 1.0 if s.type != IND else 0.3)
        if category in ("confiscate_gains", "confiscate_property"):
            confiscated = Decimal(str(round(rng.lognormvariate(-1.0, 1.2), 2) or 0.01))
        auth_name, auth_code = ctx.authority(s)
        facts = f"经查，当事人{violation}，{_fact_tail(rng)}。"
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "legal_representative": s.legal_rep,
            "decision_no": ctx.record_no("{abbr}罚〔{y}〕{n}号", d.year),
            "violation_type": violation,
            "facts": facts,
            "legal_basis": basis,
            "penalty_category": ctx.code_value("penalty_category", category),
            "fine_amount": fine,
            "confiscated_amount": confiscated,
            "decision_date": d,
            "publication_end": _add_years(d, 1 if category == "warning" else 3),
            "authority": auth_name,
            "authority_code": auth_code,
        }

    def _row_inspection_result(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        divs = {
            "market": None,
            "emergency": "10 26 27 29 31 33 34 47 48 51 59",
            "environment": "13 14 17 26 27 29 30 31 33 36 42 44 77",
            "health": "61 80 84 89 83",
            "construction": "47 48 49 50 70",
            "transport": "54 55 58 59 81",
            "city_admin": "52 62 47 50 72",
            "agriculture": "01 03 04 05 51 52",
            "commerce": "52 62 42 51",
        }.get(ctx.dept)
        types = (ENT, IND, COOP, PUB) if ctx.dept == "health" else MARKET_TYPES
        s = ctx.subject(types, _divs(divs or ""), "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        outcome = _pick(rng, _INSPECTION_OUTCOMES)
        items = N.INSPECTION_ITEMS.get(ctx.dept, ("日常监督检查",))
        auth_name, _ = ctx.authority(s)
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "inspection_no": ctx.record_no("JC{y}" + ctx.dept[:2].upper() + "{n:06d}", d.year),
            "inspection_item": rng.choice(items),
            "inspection_date": d,
            "outcome": ctx.code_value("inspection_outcome", outcome),
            "authority": auth_name,
        }

    def _row_social_insurance_arrears(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        s = ctx.subject((ENT, IND), None, "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        months = min(1 + int(rng.expovariate(1 / 3)), 60)
        staff = max(1, int(rng.lognormvariate(2.0, 1.0)))
        amount = (
            Decimal(months * staff * rng.randint(900, 1600)) + Decimal(rng.randint(0, 99)) / 100
        )
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "case_no": ctx.record_no("QSB{y}{n:06d}", d.year),
            "months_in_arrears": months,
            "amount": amount,
            "determined_on": d,
        }

    def _row_court_enforcement(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        person = rng.random() < 0.12
        s = ctx.subject((PER,) if person else (ENT, IND), None, "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        if rng.random() < 0.2:
            court, court_code = "青岛市中级人民法院", "02"
        else:
            court, court_code = _district_prefix(s.district) + "人民法院", s.district[2:]
        amount = Decimal(str(round(rng.lognormvariate(11.0, 1.3), 2)))
        status = _pick(rng, _ENFORCEMENT)
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "case_no": ctx.record_no("（{y}）鲁" + court_code + "执{n}号", d.year),
            "court": court,
            "obligation": f"{rng.choice(N.COURT_OBLIGATIONS)}共计{amount}元",
            "amount": amount if status != "fulfilled" else None,
            "status": ctx.code_value("enforcement_status", status),
            "published_on": d,
        }

    def _row_spot_check_result(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        divs = tuple(sorted(int(k) for k in N.SPOT_CHECK_PRODUCTS))
        s = ctx.subject((ENT, IND), divs, "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        products = N.SPOT_CHECK_PRODUCTS.get(s.division) or N.SPOT_CHECK_PRODUCTS["52"]
        product, standard, failed = rng.choice(products)
        fail = rng.random() < min(0.5, 0.055 * ctx.city.badness[s.index])
        made = d - dt.timedelta(days=rng.randint(10, 120))
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "sample_no": ctx.record_no("SC{y}37{n:07d}", d.year),
            "product": product,
            "batch": f"{made.isoformat()}/{rng.choice('ABCDEFGH')}{made:%y%m%d}{rng.randint(1, 9)}",
            "result": ctx.code_value("spot_check_result", "fail" if fail else "pass"),
            "failed_items": failed if fail else None,
            "standard": standard,
            "result_date": d,
        }

    def _row_food_safety_violation(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        s = ctx.subject((ENT, IND), _divs("13 14 15 51 52 61 62"), "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "case_no": ctx.record_no("SPAJ{y}{n:06d}", d.year),
            "violation": rng.choice(N.FOOD_VIOLATIONS),
            "fine_amount": _fine(rng, 0.6) if rng.random() < 0.85 else None,
            "decision_date": d,
        }

    def _row_work_safety_accident(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        s = ctx.subject((ENT,), _divs("10 13 26 29 30 31 33 34 35 37 47 48 49 54 59"), "neg")
        if s is None:
            return None
        concluded = ctx.decision_date(
            max(s.registered_on, EARLIEST_DECISION) + dt.timedelta(days=200)
        )
        occurred = concluded - dt.timedelta(days=rng.randint(45, 200))
        level = _pick(rng, _ACCIDENT_LEVELS)
        deaths, injuries = {
            "ordinary": (rng.choice((0, 0, 1, 1, 1, 2)), rng.randint(0, 6)),
            "larger": (rng.randint(3, 9), rng.randint(0, 20)),
            "major": (rng.randint(10, 29), rng.randint(5, 60)),
            "extraordinary": (rng.randint(30, 40), rng.randint(20, 120)),
        }[level]
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "accident_no": ctx.record_no("SG{y}{n:04d}", occurred.year),
            "occurred_on": occurred,
            "level": ctx.code_value("accident_level", level),
            "deaths": deaths,
            "injuries": injuries,
            "concluded_on": concluded,
        }

    def _row_environmental_penalty(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        s = ctx.subject((ENT,), _divs("13 14 17 22 26 27 29 30 31 32 33 36 42 44 47 48 77"), "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "decision_no": ctx.record_no("青环罚〔{y}〕{n}号", d.year),
            "pollutant": rng.choice(N.POLLUTANTS),
            "fine_amount": _fine(rng, 4.0),
            "decision_date": d,
        }

    def _row_ip_infringement_penalty(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        s = ctx.subject((ENT, IND), _divs("13 14 15 18 19 24 29 34 38 39 51 52"), "neg")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "decision_no": ctx.record_no("{abbr}知罚〔{y}〕{n}号", d.year),
            "right_type": _pick(rng, _IP_RIGHTS),
            "fine_amount": _fine(rng, 1.5) if rng.random() < 0.9 else None,
            "decision_date": d,
        }

    def _row_customs_aeo(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        s = ctx.subject((ENT,), _divs("13 14 17 18 29 34 35 36 37 38 39 51 58"), "pos")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        ctx.counters["aeo"] += 1
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "certificate_no": f"AEOCN{4200000000 + ctx.counters['aeo'] * 7:010d}",
            "level": ctx.code_value("aeo_level", _pick(rng, _AEO_LEVELS)),
            "certified_on": d,
        }

    def _row_honour(self, ctx: _FileContext) -> dict | None:
        rng = ctx.rng
        spec = {
            "market": (MARKET_TYPES, None),
            "science": ((ENT,), "26 27 34 35 36 38 39 40 64 65 73 74 75"),
            "hrss": ((ENT,), None),
            "commerce": ((ENT, IND), "13 14 15 51 52 61 62"),
            "agriculture": ((ENT, COOP), "01 03 04 05 13"),
            "education": ((SOC, PUB, ENT), "83"),
            "quality_office": ((ENT,), "13 14 15 26 27 29 33 34 35 36 37 38 39 40 65"),
        }.get(ctx.dept, (MARKET_TYPES, None))
        s = ctx.subject(spec[0], _divs(spec[1] or ""), "pos")
        if s is None:
            return None
        d = ctx.decision_date(s.registered_on)
        award, level, body = rng.choice(
            N.HONOURS.get(ctx.dept, (("先进单位", "municipal", "青岛市人民政府"),))
        )
        return {
            "subject_name": s.name,
            "subject_code": s.code,
            "award_no": ctx.record_no("{abbr}表〔{y}〕{n}号", d.year),
            "award": award,
            "level": ctx.code_value("honour_level", level),
            "awarding_body": body,
            "awarded_on": d,
        }

    # -- dirt ----------------------------------------------------------------------------

    def _dirty_kind(self, ctx: _FileContext, registration: bool) -> str:
        rng = ctx.rng
        decimals = [n for n, f in ctx.fields.items() if f["type"] == "decimal"]
        codes = [n for n, f in ctx.fields.items() if f["type"] == "code"]
        kinds: list[tuple[str, int]] = [
            ("bad_check", 14),
            ("o_for_0", 6),
            ("missing_required", 14),
            ("bad_date", 8),
            ("future_date", 6),
        ]
        if not registration:
            kinds += [("unknown_subject", 12), ("name_mismatch", 14), ("conflicting_duplicate", 6)]
        if decimals:
            kinds.append(("bad_amount", 10))
        if codes:
            kinds.append(("bad_codelist", 8))
        return _pick(rng, _weighted(tuple(kinds)))

    def _make_dirty(self, ctx: _FileContext, row: dict, kind: str) -> tuple[dict, str]:
        """Spoil ``row`` in the way ``kind`` names; return it and the kind actually applied."""
        rng = ctx.rng
        code_f = ctx.keys["subject_code"]
        name_f = ctx.keys["subject_name"]
        date_f = ctx.keys["decision_date"]
        row = dict(row)
        if kind == "bad_check":
            code = row[code_f]
            alphabet = (
                "0123456789X"
                if code[:17].isdigit() and len(code) == 18 and code[6:8] in ("19", "20")
                else USCC_ALPHABET
            )
            wrong = rng.choice([c for c in alphabet if c != code[-1]])
            row[code_f] = code[:-1] + wrong
        elif kind == "o_for_0":
            code = row[code_f]
            zeros = [i for i, c in enumerate(code) if c == "0"]
            if not zeros:
                return self._make_dirty(ctx, row, "bad_check")
            k = rng.choice(zeros)
            row[code_f] = code[:k] + "O" + code[k + 1 :]
        elif kind == "missing_required":
            required = [
                n for n, f in ctx.fields.items() if f.get("required") and n not in (code_f, name_f)
            ]
            row[rng.choice(required)] = None
        elif kind == "bad_date":
            y = row[date_f].year if isinstance(row.get(date_f), dt.date) else 2023
            row[date_f] = rng.choice(
                (f"{y}/13/45", f"{y}-02-30", f"{y}-00-10", f"{y}/11/31", f"{y}年6月31日")
            )
        elif kind == "future_date":
            row[date_f] = self.options.today + dt.timedelta(days=rng.randint(20, 400))
        elif kind == "bad_amount":
            decimals = [n for n, f in ctx.fields.items() if f["type"] == "decimal"]
            row[rng.choice(decimals)] = rng.choice(
                ("伍万元", "5,000元", "约2万", "壹仟元整", "0.5万元", "三千")
            )
        elif kind == "bad_codelist":
            codes = [n for n, f in ctx.fields.items() if f["type"] == "code"]
            row[rng.choice(codes)] = rng.choice(
                ("通报批评", "其它处理", "待定", "E", "基本合格", "正常")
            )
        elif kind == "name_mismatch":
            row[name_f] = _typo(rng, row[name_f])
        elif kind == "unknown_subject":
            # A few dozen outside firms recur across the departments' files.
            s = ctx.city.unknown_subject(rng.randrange(max(20, ctx.city.n // 200)))
            row[code_f], row[name_f] = s.code, s.name
            if "legal_representative" in row:
                row["legal_representative"] = s.legal_rep
        elif kind == "conflicting_duplicate":
            if not ctx.recent:
                return self._make_dirty(ctx, row, "missing_required")
            prev = dict(rng.choice(ctx.recent))
            changeable = [
                n
                for n, f in ctx.fields.items()
                if f["type"] in ("string", "text", "date", "decimal")
                and n not in (ctx.keys["record_id"], code_f, name_f, date_f)
                and prev.get(n) is not None
            ]
            if not changeable:
                return self._make_dirty(ctx, row, "missing_required")
            fname = rng.choice(changeable)
            v = prev[fname]
            if isinstance(v, dt.date):
                prev[fname] = v - dt.timedelta(days=rng.randint(1, 30))
            elif isinstance(v, Decimal):
                prev[fname] = v + Decimal(1)
            else:
                prev[fname] = str(v) + "（更正）"
            return prev, kind
        return row, kind

    # -- files ---------------------------------------------------------------------------

    def folder(self, route: int) -> str:
        """The folder of a route: ``history`` or ``live/<submission day>``."""
        if route == HISTORY:
            return "history"
        return f"live/{self.live.weeks[route].isoformat()}"

    def write_file(
        self, out: Path, plan: FilePlan, progress: Callable[[int], None] | None
    ) -> list[dict]:
        """Write the plan's rows into its history file and live weekly files; describe each."""
        ctx = _FileContext(self, plan)
        rng = ctx.rng
        registration = plan.dataset["kind"] == "registration"
        rows = self._registration_rows(ctx) if registration else self._record_rows(ctx)
        date_f = ctx.keys["decision_date"]
        outs: dict[int, _Out] = {}

        def output(route: int) -> _Out:
            o = outs.get(route)
            if o is None:
                path = out / self.folder(route) / plan.name
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = _Writer(
                    path,
                    plan.fmt,
                    plan.dataset["fields"],
                    plan.header,
                    plan.date_style,
                    ctx.versioned,
                    self.options.today,
                )
                o = outs[route] = _Out(route, writer)
            return o

        code_f = ctx.keys["subject_code"]
        name_f = ctx.keys["subject_name"]
        pending = 0
        late_types = (SOC, PUB)
        for row, mark in rows:
            subject = ctx.last_subject
            route, ctx.route = ctx.route, None
            if registration:
                route = HISTORY
            elif route is None:  # rows not drawn through decision_date (tax ratings)
                day = row.get(date_f)
                route = self.live.route(ctx.dept, day) if isinstance(day, dt.date) else HISTORY
            if route == SKIP:
                continue
            o = output(route)
            ctx.recent = o.recent
            writer = o.writer
            if ctx.versioned:
                row["version"] = 1
            if registration:
                if mark == "registration_dirty":
                    row, kind = self._make_dirty(ctx, row, self._dirty_kind(ctx, True))
                    o.dirty[kind] += 1
                elif mark == "code_noise":
                    row[code_f] = _code_noise(rng, row[code_f])
                    o.noise["code_noise"] += 1
                writer.write(row)
                if mark is None and rng.random() < 0.002:
                    writer.write(row)
                    o.noise["exact_duplicate"] += 1
            else:
                # Rows about late registrants (in the history, ingested before their
                # registration) are kept clean: their quarantine is the re-check demonstration,
                # and its outcome stays predictable.
                late = route == HISTORY and subject is not None and subject.type in late_types
                r = rng.random()
                if r < DIRTY_RATE and not late:
                    row, kind = self._make_dirty(ctx, row, self._dirty_kind(ctx, False))
                    o.dirty[kind] += 1
                    writer.write(row)
                else:
                    if r < DIRTY_RATE + NOISE_RATE:
                        row[code_f] = _code_noise(rng, row[code_f])
                        o.noise["code_noise"] += 1
                    elif subject is not None and subject.former_names and rng.random() < 0.3:
                        row[name_f] = subject.former_names[0]
                        o.noise["former_name"] += 1
                    if late:
                        o.noise["late_registrant"] += 1
                        o.late_codes.add(subject.code)
                    writer.write(row)
                    if not late:
                        o.recent.append(row)
                    if o.recent and rng.random() < 0.004:
                        writer.write(rng.choice(o.recent))
                        o.noise["exact_duplicate"] += 1
            pending += 1
            if progress is not None and pending >= 2000:
                progress(pending)
                pending = 0
        if progress is not None and pending:
            progress(pending)
        described = []
        for route in sorted(outs):
            o = outs[route]
            o.writer.close()
            described.append(self._describe(out, plan, ctx, o))
        return described

    def _describe(self, out: Path, plan: FilePlan, ctx: _FileContext, o: _Out) -> dict:
        rel = f"{self.folder(o.route)}/{plan.name}"
        dirty_total = sum(o.dirty.values())
        late_rows = o.noise.get("late_registrant", 0)
        reasons: Counter = Counter()
        for kind, n in o.dirty.items():
            reasons[EXPECTED_REASONS[kind]] += n
        if late_rows:
            reasons["unknown_subject"] += late_rows
        duplicates = o.noise.get("exact_duplicate", 0)
        received = None
        if o.route != HISTORY:
            received = self.live.received[plan.department][o.route]
        return {
            "file": rel,
            "name": plan.name,
            "folder": self.folder(o.route),
            # History is migrated in once (backfill, left out of timeliness); live files are
            # received at ``received_at`` (local time, TIME_ZONE).
            "backfill": o.route == HISTORY,
            "received_at": received.isoformat(timespec="minutes") if received else None,
            "department": plan.department,
            "dataset": plan.dataset["code"],
            "kind": plan.dataset["kind"],
            "format": plan.fmt,
            "encoding": ENCODINGS.get(plan.fmt, "utf-8" if plan.fmt == "jsonl" else "xlsx"),
            "header": plan.header,
            "codes": plan.codes,
            "versioned": ctx.versioned,
            "rows": o.writer.rows,
            "dirty": dict(sorted(o.dirty.items())),
            "noise": dict(sorted(o.noise.items())),
            "late_registrant_subjects": len(o.late_codes),
            # What ingestion in the manifest's order should report for this file, and how many
            # of its rows stay in quarantine once the late registrations have re-checked them.
            "expected": {
                "rejected": dirty_total + late_rows,
                "duplicates": duplicates,
                "accepted": o.writer.rows - dirty_total - late_rows - duplicates,
                "reasons": dict(sorted(reasons.items())),
                "open_after_recheck": dirty_total,
            },
            "sha256": _sha256(out / rel),
        }


@dataclasses.dataclass
class _Out:
    """One output file of a plan (its history file or one live week's) and its tallies."""

    route: int
    writer: _Writer
    dirty: Counter = dataclasses.field(default_factory=Counter)
    noise: Counter = dataclasses.field(default_factory=Counter)
    late_codes: set[str] = dataclasses.field(default_factory=set)
    recent: deque[dict[str, Any]] = dataclasses.field(default_factory=lambda: deque(maxlen=500))


def _subject_type_label(code: str) -> str:
    from qualitycity.subjects.codelists import SUBJECT_TYPES

    return SUBJECT_TYPES[code][0]


def _industry_with_section(division: str) -> str:
    from qualitycity.subjects.codelists import INDUSTRY_DIVISIONS

    return INDUSTRY_DIVISIONS[division][1] + division


def _add_years(d: dt.date, years: int) -> dt.date:
    return dt.date(d.year + years, d.month, min(d.day, 28))


_PENALTY_CATEGORIES = _weighted(N.PENALTY_CATEGORY_WEIGHTS)
_FINES = _weighted(N.FINE_AMOUNTS)
_INSPECTION_OUTCOMES = _weighted(N.INSPECTION_OUTCOME_WEIGHTS)
_ENFORCEMENT = _weighted((("listed", 70), ("fulfilled", 20), ("removed", 10)))
_ACCIDENT_LEVELS = _weighted(
    (("ordinary", 850), ("larger", 120), ("major", 25), ("extraordinary", 5))
)
_AEO_LEVELS = _weighted(
    (("advanced", 8), ("general", 22), ("credit_enterprise", 65), ("dishonest", 5))
)
_IP_RIGHTS = _weighted(N.IP_RIGHT_TYPES)


def _fine(rng: random.Random, factor: float) -> Decimal:
    base = Decimal(_pick(rng, _FINES))
    if factor != 1.0:
        base = (base * Decimal(str(factor))).quantize(Decimal("0.01"))
        if base <= 0:
            base = Decimal("0.01")
    return base.normalize() if base == base.to_integral_value() else base


def _fact_tail(rng: random.Random) -> str:
    return rng.choice(
        (
            "违反了相关法律法规的规定",
            "经责令改正后仍未改正",
            "情节较轻，当事人积极配合调查",
            "违法所得已依法没收",
            "造成一定社会影响",
            "系首次违法",
        )
    )


def _typo(rng: random.Random, name: str) -> str:
    swaps = [(a, b) for a, b in N.TYPO_SWAPS if a in name]
    if swaps:
        a, b = rng.choice(swaps)
        out = name.replace(a, b, 1)
        if out != name:
            return out
    if len(name) > 4:
        k = rng.randrange(2, len(name) - 2)
        return name[:k] + name[k + 1 :]
    return name + "店"


def _code_noise(rng: random.Random, code: str) -> str:
    """The same code as people type it: spaces, hyphens, lower case, full-width digits."""
    r = rng.random()
    if r < 0.3:
        return code.lower()
    if r < 0.55:
        return f"{code[:6]} {code[6:12]} {code[12:]}"
    if r < 0.75:
        return f"{code[:8]}-{code[8:17]}-{code[17:]}"
    if r < 0.9:
        return " " + code + " "
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in code)


def _sha256(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate(
    *,
    out: Path,
    options: GeneratorOptions,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the departmental files and ``manifest.json`` into ``out``; return the manifest.

    Files listed by a manifest already in ``out`` are removed first (so a smaller city does not
    leave stale files behind); other files are left alone.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    old = out / "manifest.json"
    if old.exists():
        try:
            for entry in json.loads(old.read_text(encoding="utf-8")).get("files", []):
                path = out / entry.get("file", "")
                inside = path.resolve().is_relative_to(out.resolve())
                if inside and FILE_NAME_RE.match(path.name):
                    path.unlink(missing_ok=True)
        except (ValueError, OSError):
            pass
        old.unlink()
        for folder in sorted(out.glob("live/*"), reverse=True) + [out / "live", out / "history"]:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
    gen = Generator(options)
    files = [f for plan in _plan(options) for f in gen.write_file(out, plan, progress)]
    totals_dirty: Counter = Counter()
    totals_noise: Counter = Counter()
    for f in files:
        totals_dirty.update(f["dirty"])
        totals_noise.update(f["noise"])
    expected = Counter()
    for kind, n in totals_dirty.items():
        expected[EXPECTED_REASONS[kind]] += n
    live = gen.live
    manifest = {
        "generator": "qualitycity.demo",
        "version": 2,
        "options": options.as_dict(),
        "live": {
            "weeks": [d.isoformat() for d in live.weeks],
            "decisions_from": live.start.isoformat(),
            "files": sum(not f["backfill"] for f in files),
            "rows": sum(f["rows"] for f in files if not f["backfill"]),
            "received": {
                dept: [a.isoformat(timespec="minutes") if a else None for a in arrivals]
                for dept, arrivals in sorted(live.received.items())
                if any(not f["backfill"] and f["department"] == dept for f in files)
            },
        },
        "subjects": options.scale,
        "departments": sorted({f["department"] for f in files}),
        "datasets": sorted({f["dataset"] for f in files}),
        "rows": sum(f["rows"] for f in files),
        "dirty": dict(sorted(totals_dirty.items())),
        "noise": dict(sorted(totals_noise.items())),
        "expected_reasons": dict(sorted(expected.items())),
        "ingest_order": ingest_order(files),
        "files": files,
    }
    old.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return manifest
