"""Batch checks against the database and the writes: subjects, duplicates, updates, storing.

Rows arrive in batches (``BATCH_SIZE``) already field-validated (:mod:`.validation`). For a
batch the engine loads, in a few ``IN (...)`` queries, the subjects the rows name and the
records already stored under their record ids, then decides each row's fate:

* ``insert``     new record;
* ``duplicate``  the same record id with identical content (stored or earlier in the file):
                 counted, not quarantined;
* ``update``     the same id, different content and a greater ``version``: stored, the prior
                 values kept in ``RecordRevision``;
* ``reject``     quarantined with one reason per failing field (``conflict`` when the content
                 differs without a newer version or names another subject;
                 ``duplicate_in_file`` when the file repeats an id with other content);
* ``register``   a good row of a registration dataset, passed to ``subjects_register``.

Writes use the database connection's ``executemany`` with ``%s`` parameters through Django's
cursor (which adapts the parameter style), never the ORM per row.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.db import IntegrityError, connection
from django.utils import timezone

from qualitycity.core.models import Department
from qualitycity.subjects import identifiers as ids
from qualitycity.subjects.models import Subject

from ..catalogue import Dataset
from ..models import QuarantinedRow, Record, RecordRevision, SourceFile
from .validation import SUBJECT_REASONS, normalize_name, reason

BATCH_SIZE = 5000
LOOKUP_CHUNK = 900  # parameters per IN (...) query: within every database's limit
LOOKUP_MAX = 5000  # the most the engine's look-ups take at once (a batch's worth)
SUBJECT_CACHE_LIMIT = 200_000

_REC = Record._meta.db_table
_REV = RecordRevision._meta.db_table
_QUA = QuarantinedRow._meta.db_table


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def lookup_chunk() -> int:
    """Values per ``IN (...)`` look-up on this connection: as many as it takes (≤ LOOKUP_MAX).

    Fewer, larger look-ups are much cheaper per row. SQLite's limit is a compile-time
    setting (32,766 since 3.32; Django assumes 999), so it is asked; two parameters are kept
    for the other conditions of a query.
    """
    limit = connection.features.max_query_params
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        limit = connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    if limit is None:
        return LOOKUP_MAX
    return max(1, min(LOOKUP_MAX, limit - 2))


def _placeholders(n: int) -> str:
    return ",".join(["%s"] * n)


def dumps(data: dict[str, Any]) -> str:
    """Canonical JSON of a row's data: sorted keys, so equal content gives equal text."""
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(slots=True)
class Pending:
    """One row on its way through the engine."""

    row_number: int
    cells: list[Any]
    extra: dict[str, Any] | None
    data: dict[str, Any]
    reasons: list[dict[str, str]]
    header: list[str] | None = None  # for rows re-checked from quarantine (raw keys)
    quarantine: QuarantinedRow | None = None
    source_file_id: int | None = None
    submitted_at: Any = None
    # decided by the engine
    action: str = ""
    subject_id: int | None = None
    subject_kind: str = ""
    existing_id: int | None = None
    content: str = ""
    version: int = 1


@dataclass
class Counts:
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    updated: int = 0
    reasons: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "reasons": dict(sorted(self.reasons.items())),
        }


class SubjectCache:
    """code → (id, kind, normalised names) for the subjects a file names; misses not kept."""

    def __init__(self) -> None:
        self.known: dict[str, tuple[int, str, frozenset[str]]] = {}

    def load(self, codes: Iterable[str]) -> None:
        known = self.known
        missing = list({c for c in codes if c not in known})
        if not missing:
            return
        if len(known) > SUBJECT_CACHE_LIMIT:
            known.clear()
        found: dict[str, tuple[int, str, set[str]]] = {}
        with connection.cursor() as cur:
            # one query for the subjects and their former names (most have none)
            for chunk in _chunks(missing, lookup_chunk()):
                cur.execute(
                    "SELECT s.id, s.code, s.kind, s.name, f.name FROM subjects_subject s "  # noqa: S608
                    "LEFT JOIN subjects_formername f ON f.subject_id = s.id "
                    f"WHERE s.code IN ({_placeholders(len(chunk))})",
                    list(chunk),
                )
                for sid, code, kind, name, former in cur.fetchall():
                    got = found.get(code)
                    if got is None:
                        got = found[code] = (sid, kind, {normalize_name(name)})
                    if former is not None:
                        got[2].add(normalize_name(former))
        for code, (sid, kind, names) in found.items():
            known[code] = (sid, kind, frozenset(names))

    def get(self, code: str) -> tuple[int, str, frozenset[str]] | None:
        return self.known.get(code)


class Engine:
    """Decides each row's action for one dataset and department."""

    def __init__(
        self,
        *,
        dataset: Dataset,
        department_id: int,
        subjects: SubjectCache | None = None,
        seen: dict[str, int] | None = None,
    ):
        self.dataset = dataset
        self.department_id = department_id
        self.subjects = subjects or SubjectCache()
        # record id → hash of the content accepted earlier in this file
        self.seen: dict[str, int] = seen if seen is not None else {}
        keys = dataset.keys
        self.code_field = keys["subject_code"]
        self.name_field = keys["subject_name"]
        self.id_field = keys["record_id"]
        self.name_checked = dataset.field(self.name_field).type == "subject_name"
        self.expect_kind = None
        if dataset.is_registration:
            self.expect_kind = (
                ids.RESIDENT_ID if "natural_person" in dataset.subject_types else ids.USCC
            )

    # -- deciding -------------------------------------------------------------------------

    def decide(self, batch: list[Pending]) -> None:
        if self.dataset.is_registration:
            for p in batch:
                self._check_subject(p)
            self._decide_registrations(batch)
        else:
            self._decide_records(batch)
        for p in batch:
            if p.reasons:
                p.action = "reject"

    def _check_subject(self, p: Pending) -> None:
        code = p.data.get(self.code_field)
        if not code:
            return
        if self.dataset.is_registration:
            kind = ids.classify_code(code)[0]
            if kind != self.expect_kind:
                what = "a resident ID number" if self.expect_kind == ids.RESIDENT_ID else "a USCC"
                p.reasons.append(
                    reason(self.code_field, "wrong_subject_kind", f"This dataset needs {what}.")
                )
            return
        subject = self.subjects.get(code)
        if subject is None:
            p.reasons.append(reason(self.code_field, "unknown_subject"))
            return
        p.subject_id, p.subject_kind, names = subject
        if self.name_checked:
            name = p.data.get(self.name_field)
            if name and normalize_name(name) not in names:
                p.reasons.append(reason(self.name_field, "name_mismatch"))

    def _decide_records(self, batch: list[Pending]) -> None:
        """Check each row's subject (:meth:`_check_subject`, the subjects loaded at once), then
        its record id against the earlier rows of the file and the stored records.

        One pass over the batch for both: a row's decision depends only on the rows before it.
        """
        code_field, name_field = self.code_field, self.name_field
        name_checked = self.name_checked
        self.subjects.load([c for p in batch if (c := p.data.get(code_field))])
        known = self.subjects.known
        id_field = self.id_field
        seen = self.seen
        seen_get = seen.get
        candidates: list[Pending] = []
        candidate_ids: list[str] = []
        candidate_hashes: list[int] = []
        local: dict[str, tuple[int, Pending]] = {}  # first occurrence in this batch
        dependents: list[tuple[Pending, Pending]] = []
        json_dumps, sort_keys = orjson.dumps, orjson.OPT_SORT_KEYS
        for p in batch:
            data = p.data
            code = data.get(code_field)
            if code:
                subject = known.get(code)
                if subject is None:
                    p.reasons.append(reason(code_field, "unknown_subject"))
                else:
                    p.subject_id, p.subject_kind, names = subject
                    if name_checked:
                        name = data.get(name_field)
                        # names are normalised: a name found as it is needs no normalising
                        if name and name not in names and normalize_name(name) not in names:
                            p.reasons.append(reason(name_field, "name_mismatch"))
            if p.reasons:
                continue
            p.version = data.pop("version", None) or 1
            content = p.content = json_dumps(data, option=sort_keys).decode()  # = dumps(data)
            rid = data[id_field]
            h = hash(content)
            prev = seen_get(rid)
            first = None
            if prev is None and rid in local:
                prev, first = local[rid]
            if prev is not None:
                if prev == h:
                    p.action = "duplicate"
                    if first is not None:
                        dependents.append((p, first))
                else:
                    p.reasons.append(reason(id_field, "duplicate_in_file"))
                continue
            local[rid] = (h, p)
            candidates.append(p)
            candidate_ids.append(rid)
            candidate_hashes.append(h)
        existing = self._load_existing(candidate_ids)
        if not existing:  # the usual case: all new (and their ids distinct: see ``local``)
            for p in candidates:
                p.action = "insert"
            seen.update(zip(candidate_ids, candidate_hashes, strict=True))
            candidates = []
        for p in candidates:
            rid = p.data[id_field]
            ex = existing.get(rid)
            if ex is None:
                p.action = "insert"
            else:
                ex_id, ex_subject, ex_version, ex_data = ex
                p.existing_id = ex_id
                if ex_subject != p.subject_id:
                    p.reasons.append(
                        reason(
                            self.code_field,
                            "conflict",
                            "A stored record with this id belongs to another subject.",
                        )
                    )
                    continue
                if _same_content(ex_data, p.content):
                    p.action = "duplicate"
                elif p.version > ex_version:
                    p.action = "update"
                else:
                    p.reasons.append(reason(id_field, "conflict"))
                    continue
            seen[rid] = hash(p.content)
        for p, first in dependents:
            if first.reasons:  # the first occurrence was rejected: so is its repetition
                p.action = ""
                p.reasons.extend(dict(r) for r in first.reasons)
            else:
                p.existing_id = first.existing_id

    def _decide_registrations(self, batch: list[Pending]) -> None:
        seen = self.seen
        for p in batch:
            if p.reasons:
                continue
            code = p.data[self.code_field]
            content = dumps(p.data)
            h = hash(content)
            prev = seen.get(code)
            if prev is not None:
                if prev == h:
                    p.action = "duplicate"
                else:
                    p.reasons.append(reason(self.code_field, "duplicate_in_file"))
                continue
            subject_type = p.data.get("subject_type") or (self.dataset.subject_types or ("",))[0]
            if self.dataset.subject_types and subject_type not in self.dataset.subject_types:
                p.reasons.append(reason("subject_type", "wrong_subject_type"))
                continue
            seen[code] = h
            p.action = "register"

    def _load_existing(self, rids: list[str]) -> dict[str, tuple[int, int, int, str]]:
        out: dict[str, tuple[int, int, int, str]] = {}
        if not rids:
            return out
        with connection.cursor() as cur:
            for chunk in _chunks(rids, lookup_chunk()):
                cur.execute(
                    f"SELECT source_record_id, id, subject_id, version, data FROM {_REC} "  # noqa: S608
                    f"WHERE department_id = %s AND dataset = %s "
                    f"AND source_record_id IN ({_placeholders(len(chunk))})",
                    [self.department_id, self.dataset.code, *chunk],
                )
                for rid, rec_id, subject_id, version, data in cur.fetchall():
                    out[rid] = (rec_id, subject_id, version, data)
        return out

    # -- row values -----------------------------------------------------------------------

    def record_values(self, p: Pending) -> tuple[str, int, bool, str | None]:
        """(polarity, severity, is_public, decision_date) of an accepted row."""
        polarity, severity, public = self.dataset.derive(p.data)
        return polarity, severity, public, p.data.get(self.dataset.keys["decision_date"])

    def registration_row(self, p: Pending) -> dict[str, Any]:
        d = p.data
        ds = self.dataset
        kind = "person" if self.expect_kind == ids.RESIDENT_ID else "legal"
        formers = d.get("former_names") or ""
        for sep in "；;、，,|":
            formers = formers.replace(sep, "\n")
        decision = d.get(ds.keys["decision_date"])
        return {
            "code": d[self.code_field],
            "kind": kind,
            "name": d[self.name_field],
            "subject_type": d.get("subject_type") or (ds.subject_types or ("",))[0],
            "district": d.get("district", ""),
            "industry": d.get("industry", ""),
            "legal_representative": d.get("legal_representative", ""),
            "registered_on": dt.date.fromisoformat(decision) if decision else None,
            "status": d.get("status") or "active",
            "former_names": [n.strip() for n in formers.split("\n") if n.strip()],
        }


def _same_content(stored: Any, content: str) -> bool:
    if stored == content:
        return True
    if isinstance(stored, bytes | str):
        try:
            stored = orjson.loads(stored)
        except orjson.JSONDecodeError:
            return False
    return stored == orjson.loads(content)


def quarantine_fields(
    p: Pending, header: list[str], code_field: str, code_index: int | None
) -> tuple[dict, list, str, str]:
    """(raw cells, reasons, primary reason, subject code) of a rejected row."""
    if p.header is not None:
        raw = dict(zip(p.header, p.cells, strict=False))
    else:
        raw = {}
        for i, cell in enumerate(p.cells):
            key = header[i] if i < len(header) and header[i] else f"column_{i + 1}"
            if cell is None and key in raw:
                continue
            raw[key] = "" if cell is None else cell
        if p.extra:
            for k, v in p.extra.items():
                if k == "_malformed":
                    raw["_line"] = v.text
                else:
                    raw[k] = v
    reasons = p.reasons
    primary = next((r["code"] for r in reasons if r["code"] in SUBJECT_REASONS), reasons[0]["code"])
    code = p.data.get(code_field)
    if not code and code_index is not None and code_index < len(p.cells):
        code = str(p.cells[code_index] or "").strip()
    return raw, reasons, primary, (code or "")[:18]


# --------------------------------------------------------------------------------------------
# Writes
# --------------------------------------------------------------------------------------------

_INSERT_RECORD = (
    f"INSERT INTO {_REC} (dataset, department_id, subject_id, source_record_id, category, "
    "polarity, severity, decision_date, is_public, version, data, source_file_id, row_number, "
    "submitted_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
_INSERT_REVISION = (
    f"INSERT INTO {_REV} (record_id, version, data, source_file_id, row_number, replaced_at, "
    "replaced_by_id, submitted_at) SELECT id, version, data, source_file_id, row_number, %s, %s, "
    f"submitted_at FROM {_REC} WHERE id = %s"  # noqa: S608
)
_UPDATE_RECORD = (
    f"UPDATE {_REC} SET category = %s, polarity = %s, severity = %s, decision_date = %s, "  # noqa: S608
    "is_public = %s, version = %s, data = %s, source_file_id = %s, row_number = %s, "
    "submitted_at = %s WHERE id = %s"
)
_INSERT_QUARANTINE = (
    f"INSERT INTO {_QUA} (source_file_id, row_number, raw, reasons, primary_reason, "
    "subject_code, status, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)


# Columns of _INSERT_RECORD that are foreign keys, with the tables they refer to.
_INSERT_PARENTS = (
    (1, Department._meta.db_table),
    (2, Subject._meta.db_table),
    (11, SourceFile._meta.db_table),
)


@contextmanager
def foreign_keys_checked_by_batch(wanted: bool = True) -> Iterator[bool]:
    """Let SQLite skip its per-row foreign-key look-ups for one bulk write; yields whether it does.

    SQLite looks up every foreign key of every inserted row on its own: three look-ups in
    random order for each record, about a fifth of the cost of storing it. Outside a
    transaction (the pragma cannot change inside one) the checks are turned off for the
    write, and :func:`insert_records` checks each distinct parent of the batch once instead,
    in key order, inside the same transaction: a missing parent still refuses the whole
    batch. Only for writes whose other rows refer to the submission itself (updates,
    quarantine, counts), never with registrations. Elsewhere (PostgreSQL, inside a
    transaction, ``wanted`` false) nothing changes and it yields False.
    """
    if not wanted or connection.vendor != "sqlite" or connection.in_atomic_block:
        yield False
        return
    disabled = connection.disable_constraint_checking()
    try:
        yield disabled
    finally:
        if disabled:
            connection.enable_constraint_checking()


def insert_records(rows: list[tuple], *, check_parents: bool) -> None:
    """Insert ``_INSERT_RECORD`` rows; with ``check_parents``, first check their parents exist.

    Call inside the transaction that inserts them. ``check_parents`` is for writes under
    :func:`foreign_keys_checked_by_batch`, where the database does not check them row by row.
    """
    with connection.cursor() as cur:
        if check_parents:
            for column, table in _INSERT_PARENTS:
                wanted = sorted({row[column] for row in rows})
                cur.execute(
                    f"SELECT id FROM {table} WHERE id IN "  # noqa: S608
                    "(SELECT value FROM json_each(%s)) ORDER BY id",
                    [orjson.dumps(wanted).decode()],
                )
                found = [r[0] for r in cur.fetchall()]
                if found != wanted:
                    missing = sorted(set(wanted) - set(found))
                    raise IntegrityError(
                        f"FOREIGN KEY constraint failed: {table} has no id {missing[:10]}"
                    )
        cur.executemany(_INSERT_RECORD, rows)


def adapt_datetime(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def record_params(engine: Engine, p: Pending, source_file_id: int, submitted_at: Any) -> tuple:
    polarity, severity, public, decision = engine.record_values(p)
    ds = engine.dataset
    return (
        ds.code,
        engine.department_id,
        p.subject_id,
        p.data[engine.id_field],
        ds.category,
        polarity,
        severity,
        decision,
        public,
        p.version,
        p.content,
        source_file_id,
        p.row_number,
        submitted_at,
    )


def write_updates(
    engine: Engine, updates: list[Pending], *, replaced_by: int, now: Any, default_sf: int | None
) -> None:
    """Apply accepted updates: keep each record's prior values as a revision, then overwrite."""
    if not updates:
        return
    ds = engine.dataset
    with connection.cursor() as cur:
        cur.executemany(_INSERT_REVISION, [(now, replaced_by, p.existing_id) for p in updates])
        params = []
        for p in updates:
            polarity, severity, public, decision = engine.record_values(p)
            params.append(
                (
                    ds.category,
                    polarity,
                    severity,
                    decision,
                    public,
                    p.version,
                    p.content,
                    p.source_file_id or default_sf,
                    p.row_number,
                    p.submitted_at or now,
                    p.existing_id,
                )
            )
        cur.executemany(_UPDATE_RECORD, params)


def write_quarantine(rows: list[tuple], now: Any) -> None:
    if not rows:
        return
    with connection.cursor() as cur:
        cur.executemany(
            _INSERT_QUARANTINE,
            [
                (
                    sf_id,
                    row_number,
                    orjson.dumps(raw).decode(),
                    orjson.dumps(reasons).decode(),
                    primary,
                    code,
                    QuarantinedRow.Status.OPEN,
                    now,
                )
                for sf_id, row_number, raw, reasons, primary, code in rows
            ],
        )


def source_file_undo(sf: SourceFile, dataset: Dataset | None) -> None:
    """Remove what an unfinished ingestion of ``sf`` wrote, so that a retry starts clean.

    Updated records get their prior values back from the revisions this file made; records it
    inserted and rows it quarantined are deleted. Subjects registered by a registration file
    stay registered (registration is idempotent: a retry finds them unchanged). Call inside a
    transaction.
    """
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, record_id, version, data, source_file_id, row_number, submitted_at "  # noqa: S608
            f"FROM {_REV} WHERE replaced_by_id = %s ORDER BY id DESC",
            [sf.pk],
        )
        revisions = cur.fetchall()
    if revisions:
        from ..catalogue import get_dataset

        ds = dataset or get_dataset(sf.dataset)
        decision_field = ds.keys["decision_date"]
        params = []
        for _rev_id, record_id, version, data, src, row_number, submitted_at in revisions:
            values = orjson.loads(data) if isinstance(data, str | bytes) else data
            polarity, severity, public = ds.derive(values)
            if submitted_at is None:
                submitted_at = adapt_datetime(SourceFile.objects.get(pk=src).created_at)
            params.append(
                (
                    polarity,
                    severity,
                    public,
                    values.get(decision_field),
                    version,
                    data if isinstance(data, str) else dumps(values),
                    src,
                    row_number,
                    submitted_at,
                    record_id,
                )
            )
        with connection.cursor() as cur:
            cur.executemany(
                f"UPDATE {_REC} SET polarity = %s, severity = %s, is_public = %s, "  # noqa: S608
                "decision_date = %s, version = %s, data = %s, source_file_id = %s, "
                "row_number = %s, submitted_at = %s WHERE id = %s",
                params,
            )
        RecordRevision.objects.filter(replaced_by=sf).delete()
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {_QUA} SET resolved_record_id = NULL WHERE resolved_record_id IN "  # noqa: S608
            f"(SELECT id FROM {_REC} WHERE source_file_id = %s)",
            [sf.pk],
        )
        cur.execute(
            f"DELETE FROM {_REV} WHERE record_id IN "  # noqa: S608
            f"(SELECT id FROM {_REC} WHERE source_file_id = %s)",
            [sf.pk],
        )
        cur.execute(f"DELETE FROM {_REC} WHERE source_file_id = %s", [sf.pk])  # noqa: S608
        cur.execute(f"DELETE FROM {_QUA} WHERE source_file_id = %s", [sf.pk])  # noqa: S608


def now_db() -> tuple[dt.datetime, Any]:
    now = timezone.now()
    return now, adapt_datetime(now)
