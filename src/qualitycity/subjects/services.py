"""Writes of the subject registry: registration (in bulk and one at a time) and its search index.

Registration datasets reach the registry through the ingestion pipeline, which calls
:func:`subjects_register` with batches of validated rows. A batch is written with a handful of
bulk statements whatever its size: subjects (``bulk_create`` / ``bulk_update``), former names,
the name index (:class:`~qualitycity.subjects.models.SubjectNameGram`, raw ``executemany``) and
the change log (:meth:`ObjectChange.record_many`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.db import connection, transaction
from django.dispatch import Signal
from django.utils import timezone

from qualitycity.core.errors import ValidationFailed
from qualitycity.core.models import Department, ObjectChange

from .codelists import DISTRICTS, SUBJECT_STATUSES, SUBJECT_TYPES, expected_subject_type
from .identifiers import RESIDENT_ID, IdentifierError, classify_code, mask_person_name
from .models import FormerName, Subject, SubjectNameGram
from .selectors import PREFIX_ROWS, fold_name

__all__ = [
    "REGISTRATION_FIELDS",
    "subject_register_one",
    "subjects_register",
    "subjects_registered",
]

# The attributes a registration row sets (besides ``code`` and ``former_names``).
REGISTRATION_FIELDS: tuple[str, ...] = (
    "kind",
    "name",
    "subject_type",
    "district",
    "industry",
    "legal_representative",
    "registered_on",
    "status",
)

# Sent after a batch is stored, with ``codes`` = the codes of newly registered subjects, so
# that records quarantined as "unknown subject" can be re-checked.
subjects_registered = Signal()

_LOOKUP_CHUNK = 500  # codes per ``IN (...)`` look-up: safe for every database's parameter limit
_GRAM_TABLE = SubjectNameGram._meta.db_table

IndexKey = tuple[str, bool, int, int]  # (gram, is_former, name_len, subject_id)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --------------------------------------------------------------------------------------------
# The name index
# --------------------------------------------------------------------------------------------


def index_keys(subject_id: int, name: str, former_names: Iterable[str]) -> set[IndexKey]:
    """The rows of the name index for one subject.

    For the current name and each former name: every distinct bigram of the folded name, plus
    ``^`` and its first 2, 3 and 4 characters (the prefix rows), each with the name's length.
    """
    keys: set[IndexKey] = set()
    for text, is_former in [(name, False), *((f, True) for f in former_names)]:
        folded = fold_name(text)
        n = len(folded)
        if n < 2:
            continue
        for i in range(n - 1):
            keys.add((folded[i : i + 2], is_former, n, subject_id))
        for k in range(2, min(n, PREFIX_ROWS) + 1):
            keys.add(("^" + folded[:k], is_former, n, subject_id))
    return keys


def _index_write(added: Iterable[IndexKey], removed: Iterable[IndexKey]) -> None:
    removed = sorted(removed)
    added = sorted(added)  # in index order: far fewer B-tree pages touched per batch
    with connection.cursor() as cursor:
        if removed:
            cursor.executemany(
                f"DELETE FROM {_GRAM_TABLE} "  # noqa: S608 - table name is ours, values bound
                "WHERE gram = %s AND is_former = %s AND name_len = %s AND subject_id = %s",
                removed,
            )
        if added:
            cursor.executemany(
                f"INSERT INTO {_GRAM_TABLE} "  # noqa: S608
                "(gram, is_former, name_len, subject_id) VALUES (%s, %s, %s, %s)",
                added,
            )


def subjects_index_rebuild(*, batch: int = 20000, progress: Any = None) -> int:
    """Rebuild the whole name index from the stored names; return the number of subjects.

    For repairs after writes that bypassed the model (raw SQL, restored tables). Runs in one
    transaction: searches keep seeing the old index until it commits.
    """
    table = FormerName._meta.db_table
    done = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {_GRAM_TABLE}")  # noqa: S608
        last = 0
        while True:
            chunk = list(
                Subject.objects.filter(pk__gt=last).order_by("pk").values_list("pk", "name")[:batch]
            )
            if not chunk:
                break
            last = chunk[-1][0]
            formers: dict[int, list[str]] = {}
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT subject_id, name FROM {table} "  # noqa: S608
                    "WHERE subject_id >= %s AND subject_id <= %s",
                    [chunk[0][0], last],
                )
                for sid, name in cursor.fetchall():
                    formers.setdefault(sid, []).append(name)
            keys: list[IndexKey] = []
            for pk, name in chunk:
                keys.extend(index_keys(pk, name, formers.get(pk, ())))
            _index_write(keys, ())
            done += len(chunk)
            if progress is not None:
                progress(done)
    return done


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------


def _clean_row(row: dict[str, Any]) -> dict[str, Any]:
    code = row.get("code") or ""
    name = (row.get("name") or "").strip()
    kind = row.get("kind")
    if not code or not name or kind not in Subject.Kind.values:
        raise ValidationFailed(
            "A registration row needs a code, a name and a kind (legal or person).",
            code="bad_registration_row",
            details={"code": code, "kind": kind},
        )
    clean = {
        "code": code,
        "kind": kind,
        "name": name,
        "subject_type": row.get("subject_type")
        or ("natural_person" if kind == Subject.Kind.PERSON else "enterprise"),
        "district": row.get("district") or "",
        "industry": row.get("industry") or "",
        "legal_representative": (row.get("legal_representative") or "").strip(),
        "registered_on": row.get("registered_on"),
        "status": row.get("status") or "active",
    }
    formers = []
    for former in row.get("former_names") or ():
        former = (former or "").strip()
        if former and former != name and former not in formers:
            formers.append(former)
    clean["former_names"] = formers
    return clean


_SUBJECT_COLUMNS = (
    "code",
    *REGISTRATION_FIELDS,
    "registered_by_id",
    "created_at",
    "updated_at",
)


def _insert_subjects(
    rows: list[dict[str, Any]], *, department_id: int | None, now: datetime.datetime
) -> dict[str, int]:
    """Insert new subjects with one ``executemany``; return their ids by code."""
    if not rows:
        return {}
    ops = connection.ops
    stamp = Subject._meta.get_field("created_at").get_db_prep_save(now, connection)
    values = [
        (
            row["code"],
            *(row[f] for f in REGISTRATION_FIELDS[:-2]),
            ops.adapt_datefield_value(row["registered_on"]),
            row["status"],
            department_id,
            stamp,
            stamp,
        )
        for row in rows
    ]
    quote = ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        quote(Subject._meta.db_table),
        ", ".join(quote(c) for c in _SUBJECT_COLUMNS),
        ", ".join(["%s"] * len(_SUBJECT_COLUMNS)),
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)
    ids: dict[str, int] = {}
    codes = [row["code"] for row in rows]
    for chunk in _chunks(codes, _LOOKUP_CHUNK):
        ids.update(Subject.objects.filter(code__in=chunk).values_list("code", "pk"))
    return ids


def _snapshot(subject: Subject, former_names: Iterable[str]) -> dict[str, Any]:
    data = subject.snapshot()
    data["former_names"] = sorted(former_names)
    return data


def subjects_register(
    *, rows: list[dict[str, Any]], department: Department | None, source_file: Any = None
) -> dict[str, int]:
    """Create or update a batch of subjects from validated registration rows.

    Each row has ``code`` (normalised), ``kind`` (``legal``/``person``), ``name``,
    ``subject_type``, ``district``, ``industry``, ``legal_representative``, ``registered_on``
    (date or None), ``status`` and ``former_names`` (list of str). A changed name moves the old
    one to the former names; listed former names are added (never removed, except a former
    name that becomes the current name again). The name index and the change log are written
    in bulk. ``department`` is recorded as the registering department of new subjects;
    ``source_file`` is accepted for provenance by the caller and not stored here.

    Returns ``{"created": n, "updated": n, "unchanged": n}``. When a code occurs twice in
    the batch, the later row wins and the former names of both are kept.
    """
    merged: dict[str, dict[str, Any]] = {}
    for raw in rows:
        row = _clean_row(raw)
        previous = merged.get(row["code"])
        if previous is not None:
            formers = previous["former_names"] + [
                f for f in row["former_names"] if f not in previous["former_names"]
            ]
            if previous["name"] != row["name"]:
                formers.append(previous["name"])
            row["former_names"] = [f for f in dict.fromkeys(formers) if f != row["name"]]
        merged[row["code"]] = row
    if not merged:
        return {"created": 0, "updated": 0, "unchanged": 0}

    today = timezone.localdate()
    now = timezone.now()
    department_id = department.pk if department is not None else None
    codes = list(merged)

    with transaction.atomic():
        existing: dict[str, Subject] = {}
        for chunk in _chunks(codes, _LOOKUP_CHUNK):
            for subject in Subject.objects.filter(code__in=chunk):
                existing[subject.code] = subject
        old_formers: dict[int, set[str]] = {s.pk: set() for s in existing.values()}
        ids = list(old_formers)
        for chunk in _chunks(ids, _LOOKUP_CHUNK):
            for sid, name in FormerName.objects.filter(subject_id__in=chunk).values_list(
                "subject_id", "name"
            ):
                old_formers[sid].add(name)

        # -- new subjects (raw executemany: the ORM's per-field work would dominate) -------
        new_rows = [row for code, row in merged.items() if code not in existing]
        new_ids = _insert_subjects(new_rows, department_id=department_id, now=now)

        former_objs: list[FormerName] = []
        index_added: list[IndexKey] = []
        index_removed: list[IndexKey] = []
        changes: list[tuple[str, Any, str, dict | None, dict | None]] = []
        for row in new_rows:
            pk = new_ids[row["code"]]
            former_objs.extend(FormerName(subject_id=pk, name=f) for f in row["former_names"])
            index_added.extend(index_keys(pk, row["name"], row["former_names"]))
            after = {"id": pk, "code": row["code"], "registered_by_id": department_id}
            after.update((f, row[f]) for f in REGISTRATION_FIELDS)
            after["former_names"] = sorted(row["former_names"])
            shown = mask_person_name(row["name"]) if row["kind"] == "person" else row["name"]
            changes.append(("create", pk, shown, None, after))

        # -- existing subjects -------------------------------------------------------------
        to_update: list[Subject] = []
        update_fields: set[str] = set()
        stale_formers: list[tuple[int, str]] = []
        unchanged = 0
        for code, subject in existing.items():
            row = merged[code]
            before_formers = old_formers[subject.pk]
            changed = [f for f in REGISTRATION_FIELDS if getattr(subject, f) != row[f]]
            if subject.registered_by_id is None and department_id is not None:
                changed.append("registered_by")
            after_formers = set(before_formers) | set(row["former_names"])
            if row["name"] != subject.name:
                after_formers.add(subject.name)
            after_formers.discard(row["name"])
            if not changed and after_formers == before_formers:
                unchanged += 1
                continue
            before = _snapshot(subject, before_formers)
            old_keys = index_keys(subject.pk, subject.name, before_formers)
            for field in changed:
                if field == "registered_by":
                    subject.registered_by_id = department_id
                else:
                    setattr(subject, field, row[field])
            subject.updated_at = now
            if changed:
                to_update.append(subject)
                update_fields.update(changed)
            for name in after_formers - before_formers:
                until = today if name not in row["former_names"] else None
                former_objs.append(FormerName(subject_id=subject.pk, name=name, until=until))
            stale_formers.extend((subject.pk, n) for n in before_formers - after_formers)
            new_keys = index_keys(subject.pk, subject.name, after_formers)
            index_added.extend(new_keys - old_keys)
            index_removed.extend(old_keys - new_keys)
            changes.append(
                ("update", subject.pk, str(subject), before, _snapshot(subject, after_formers))
            )

        if to_update:
            fields = sorted(update_fields | {"updated_at"})
            fields = ["registered_by_id" if f == "registered_by" else f for f in fields]
            Subject.objects.bulk_update(to_update, fields, batch_size=500)
        if stale_formers:  # raw: the index is maintained here, not by model signals
            with connection.cursor() as cursor:
                cursor.executemany(
                    f"DELETE FROM {FormerName._meta.db_table} "  # noqa: S608
                    "WHERE subject_id = %s AND name = %s",
                    stale_formers,
                )
        FormerName.objects.bulk_create(former_objs, batch_size=1000, ignore_conflicts=True)
        _index_write(index_added, index_removed)
        ObjectChange.record_many(Subject, changes)

        created_codes = [row["code"] for row in new_rows]
        if created_codes:
            transaction.on_commit(
                lambda: subjects_registered.send(
                    sender=Subject, codes=created_codes, source_file=source_file
                )
            )

    return {
        "created": len(new_rows),
        "updated": len(changes) - len(new_rows),
        "unchanged": unchanged,
    }


def subject_register_one(
    *,
    code: str,
    name: str,
    department: Department | None = None,
    subject_type: str | None = None,
    district: str = "",
    industry: str = "",
    legal_representative: str = "",
    registered_on: datetime.date | None = None,
    status: str = "active",
    former_names: Iterable[str] = (),
) -> Subject:
    """Register or update one subject (UI, tests), through the same path as the bulk load.

    The code is validated (``ValidationFailed`` with the failed check as its code, e.g.
    ``bad_check``); the kind follows from it. The subject type defaults to what USCC positions
    1-2 imply (or ``natural_person``), the district to the code's division when it is one of
    the city's.
    """
    try:
        code_kind, normalised = classify_code(code)
    except IdentifierError as exc:
        raise ValidationFailed(exc.message, code=exc.code, details={"field": "code"}) from exc
    kind = Subject.Kind.PERSON if code_kind == RESIDENT_ID else Subject.Kind.LEGAL
    if subject_type is None:
        subject_type = (
            ("natural_person" if kind == Subject.Kind.PERSON else None)
            or expected_subject_type(normalised)
            or "other_organisation"
        )
    if subject_type not in SUBJECT_TYPES:
        raise ValidationFailed(f"Unknown subject type: {subject_type}", code="bad_subject_type")
    if status not in SUBJECT_STATUSES:
        raise ValidationFailed(f"Unknown status: {status}", code="bad_status")
    if not (name or "").strip():
        raise ValidationFailed("A subject needs a name.", code="name_required")
    if not district:
        division = normalised[:6] if kind == Subject.Kind.PERSON else normalised[2:8]
        district = division if division in DISTRICTS else ""
    subjects_register(
        rows=[
            {
                "code": normalised,
                "kind": kind,
                "name": name,
                "subject_type": subject_type,
                "district": district,
                "industry": industry,
                "legal_representative": legal_representative,
                "registered_on": registered_on,
                "status": status,
                "former_names": list(former_names),
            }
        ],
        department=department,
    )
    return Subject.objects.get(code=normalised)
