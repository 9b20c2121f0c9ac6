"""The draw of an inspection plan: a pure function of (seed, pool snapshots, plan parameters).

Nothing here touches the database. ``services.plan_draw`` builds the two pools, serialises them
canonically (:func:`subjects_bytes`, :func:`inspectors_bytes`), stores the bytes (compressed)
with their SHA-256 and the seed, and calls :func:`draw`; ``services.draw_verify`` parses the
stored bytes back and calls :func:`draw` again. See ``docs/supervision.md``.

Algorithm ``ALGORITHM``:

1. ``rng = random.Random(seed)`` — CPython's Mersenne Twister seeded with the 128-bit integer.
2. For each class in the order A, B, C, D: the subjects of that class in ascending id order;
   ``k = floor(n × ratio / 100 + 1/2)`` (exact rational arithmetic); ``rng.sample(ids, k)``.
3. Tasks: the drawn subjects in ascending id order, one task per subject (joint: every
   department of the plan visits it together).
4. For each task, for each plan item in ascending department code: one inspector of that
   department holding the item's qualification, eligible for the subject, not already chosen
   (:func:`_pick`); then, until ``min_inspectors`` are chosen, one more from the union of the
   items' candidates. Eligible: no declared conflict with the subject, not among the
   inspectors of the subject's last inspection, and (``avoid_home_district``) not living in the
   subject's district. A task that cannot be staffed gets nobody and a reason.
5. ``_pick``: up to 8 tries ``cands[rng.randrange(len(cands))]``; if none is eligible,
   ``rng.choice`` among the eligible ones (none: unstaffed).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from operator import itemgetter
from typing import NamedTuple

ALGORITHM = "qualitycity-draw/1 (CPython random.Random MT19937)"
CLASSES = ("A", "B", "C", "D")
SUBJECT_HEADER = b"qualitycity subject pool v1: id\tclass\tdistrict\tlast-inspectors\n"
INSPECTOR_HEADER = (
    b"qualitycity inspector pool v1: id\tdepartment\tdistrict\tqualifications\tconflicts\n"
)
PICK_TRIES = 8


class SnapshotError(ValueError):
    """A stored snapshot that cannot be parsed."""


class PoolSubject(NamedTuple):
    """One subject of the pool. Plain ``(id, class, district, last)`` tuples are accepted too
    (the services build a million of them: tuples are cheaper)."""

    id: int
    risk_class: str
    district: str = ""
    last: tuple[int, ...] = ()


class PoolInspector(NamedTuple):
    id: int
    department: str
    district: str = ""
    qualifications: tuple[str, ...] = ()
    conflicts: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Item:
    department: str
    qualification: str = ""


@dataclass(frozen=True)
class Parameters:
    ratios: dict[str, str]  # class → percent as text ("5", "12.5")
    items: tuple[Item, ...]
    min_inspectors: int = 2
    avoid_home_district: bool = False

    def as_dict(self) -> dict:
        return {
            "ratios": {c: str(self.ratios[c]) for c in CLASSES},
            "items": [[i.department, i.qualification] for i in self.items],
            "min_inspectors": self.min_inspectors,
            "avoid_home_district": self.avoid_home_district,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Parameters:
        return cls(
            ratios={c: str(d["ratios"][c]) for c in CLASSES},
            items=tuple(Item(dep, q) for dep, q in d["items"]),
            min_inspectors=int(d["min_inspectors"]),
            avoid_home_district=bool(d["avoid_home_district"]),
        )


@dataclass
class DrawnTask:
    subject: int
    risk_class: str
    inspectors: tuple[int, ...]  # empty when unstaffed
    reason: str = ""


@dataclass
class Outcome:
    tasks: list[DrawnTask] = field(default_factory=list)
    class_counts: dict[str, list[int]] = field(default_factory=dict)  # class → [pool, drawn]

    @property
    def unstaffed(self) -> list[DrawnTask]:
        return [t for t in self.tasks if not t.inspectors]


# --- canonical serialisation ------------------------------------------------------------------


def subjects_bytes(subjects: Iterable[PoolSubject]) -> bytes:
    """One line per subject in ascending id: ``id TAB class TAB district TAB last,...``."""
    rows = sorted(subjects, key=_by_id)
    body = "".join(
        f"{s[0]}\t{s[1]}\t{s[2]}\t{','.join(map(str, sorted(s[3]))) if s[3] else ''}\n"
        for s in rows
    )
    return SUBJECT_HEADER + body.encode()


def inspectors_bytes(inspectors: Iterable[PoolInspector]) -> bytes:
    rows = sorted(inspectors, key=_by_id)
    body = "".join(
        f"{i.id}\t{i.department}\t{i.district}\t{','.join(sorted(i.qualifications))}\t"
        f"{','.join(map(str, sorted(i.conflicts)))}\n"
        for i in rows
    )
    return INSPECTOR_HEADER + body.encode()


_by_id = itemgetter(0)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",")] if text else []


def parse_subjects(data: bytes) -> list[PoolSubject]:
    if not data.startswith(SUBJECT_HEADER):
        raise SnapshotError("the subject pool snapshot has no valid header")
    out = []
    for n, line in enumerate(data[len(SUBJECT_HEADER) :].decode().splitlines(), start=2):
        try:
            sid, cls, district, last = line.split("\t")
            out.append((int(sid), cls, district, tuple(_ints(last))))
        except ValueError as exc:
            raise SnapshotError(f"subject pool snapshot line {n}: {line!r}") from exc
    return out


def parse_inspectors(data: bytes) -> list[PoolInspector]:
    if not data.startswith(INSPECTOR_HEADER):
        raise SnapshotError("the inspector pool snapshot has no valid header")
    out = []
    for n, line in enumerate(data[len(INSPECTOR_HEADER) :].decode().splitlines(), start=2):
        try:
            iid, dept, district, quals, conflicts = line.split("\t")
            out.append(
                PoolInspector(
                    int(iid),
                    dept,
                    district,
                    tuple(quals.split(",")) if quals else (),
                    frozenset(_ints(conflicts)),
                )
            )
        except ValueError as exc:
            raise SnapshotError(f"inspector pool snapshot line {n}: {line!r}") from exc
    return out


# --- the draw ---------------------------------------------------------------------------------


def sample_size(n: int, ratio: str) -> int:
    """floor(n × ratio / 100 + 1/2), exactly."""
    return int(Fraction(n) * Fraction(ratio) / 100 + Fraction(1, 2))


def _pick(rng: random.Random, cands: list[PoolInspector], ok: Callable[[PoolInspector], bool]):
    if not cands:
        return None
    for _ in range(PICK_TRIES):
        c = cands[rng.randrange(len(cands))]
        if ok(c):
            return c
    eligible = [c for c in cands if ok(c)]
    return rng.choice(eligible) if eligible else None


def draw(
    seed: int,
    subjects: list[PoolSubject],
    inspectors: list[PoolInspector],
    params: Parameters,
) -> Outcome:
    rng = random.Random(seed)
    by_class: dict[str, list[int]] = {c: [] for c in CLASSES}
    info: dict[int, PoolSubject] = {}
    for s in sorted(subjects, key=_by_id):
        by_class.setdefault(s[1], []).append(s[0])
        info[s[0]] = s
    outcome = Outcome()
    chosen_ids: list[int] = []
    for cls in CLASSES:
        ids = by_class[cls]
        k = sample_size(len(ids), params.ratios[cls])
        picked = rng.sample(ids, k)
        chosen_ids.extend(picked)
        outcome.class_counts[cls] = [len(ids), k]
    chosen_ids.sort()

    pool = sorted(inspectors, key=_by_id)
    items = sorted(params.items, key=lambda i: i.department)
    per_item: list[list[PoolInspector]] = [
        [
            i
            for i in pool
            if i.department == it.department
            and (not it.qualification or it.qualification in i.qualifications)
        ]
        for it in items
    ]
    union_ids = {i.id for cands in per_item for i in cands}
    union = [i for i in pool if i.id in union_ids]
    need = max(params.min_inspectors, len(items))
    avoid_home = params.avoid_home_district

    for sid in chosen_ids:
        s = info[sid]
        last = frozenset(s[3])
        chosen: list[PoolInspector] = []
        taken: set[int] = set()

        def ok(i: PoolInspector, s=s, sid=sid, last=last, taken=taken) -> bool:
            return (
                i.id not in taken
                and sid not in i.conflicts
                and i.id not in last
                and not (avoid_home and i.district and i.district == s[2])
            )

        reason = ""
        for it, cands in zip(items, per_item, strict=True):
            c = _pick(rng, cands, ok)
            if c is None:
                q = f", qualification {it.qualification}" if it.qualification else ""
                reason = f"no eligible inspector of department {it.department}{q}"
                break
            chosen.append(c)
            taken.add(c.id)
        while not reason and len(chosen) < need:
            c = _pick(rng, union, ok)
            if c is None:
                reason = f"only {len(chosen)} eligible inspector(s), {need} needed"
                break
            chosen.append(c)
            taken.add(c.id)
        outcome.tasks.append(
            DrawnTask(sid, s[1], () if reason else tuple(c.id for c in chosen), reason)
        )
    return outcome
