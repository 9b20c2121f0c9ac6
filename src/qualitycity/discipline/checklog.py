"""Writing the check log: one ``Check`` row per check, one ``CheckHit`` per list in force.

Every check is committed before its answer (with the ``check_id``) leaves the server, each by
its own request. Two alternatives were measured and dropped: a per-process writer thread
committing the rows of all waiting requests together (group commit) was slower (one process,
eight threads: ≈ 1,900 against ≈ 3,400 checks/s), as handing the waiting threads over through
the GIL costs more than SQLite's commit in WAL mode; and a per-process lock in front of SQLite's
busy handler gained little and made every writer of the process wait behind the one commit that
runs SQLite's automatic WAL checkpoint (with its fsync).

The insert is a plain multi-row ``INSERT … RETURNING id``: the ORM's per-object preparation
would cost more than the insert. Ids grow with the row order on both backends, so the sorted ids
of one statement are its rows in order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from qualitycity.core import context
from qualitycity.core.writeturn import database_write

from .models import Check, CheckHit

COLUMNS = (
    "created_at",
    "request_id",
    "source",
    "batch",
    "department_id",
    "api_client_id",
    "user_id",
    "scenario",
    "day",
    "data_version",
    "subject_code",
    "subject_id",
    "lists",
    "entries",
    "measures",
    "hit",
    "measure_count",
)
ROWS_PER_INSERT = 999 // len(COLUMNS)  # SQLite's parameter limit as Django assumes it

HitSpec = tuple[str, int, int]  # list code, entry id, measures that list triggered
Row = tuple[Any, ...]


def _json_adapter() -> Any:
    """A function making a JSON column's parameter for this database (most lists are empty)."""
    if connection.vendor == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb
    empty = "[]"
    return lambda value: orjson.dumps(value).decode() if value else empty


def rows_for(
    *,
    checker: Any,
    scenario: str,
    on: dt.date,
    version: str,
    answers: Sequence[dict[str, Any]],
    codes: Sequence[str],
    subject_ids: Sequence[int | None],
    batch: bool,
) -> tuple[list[Row], list[list[HitSpec]]]:
    """The rows of ``Check`` and, per row, its hits, ready to insert."""
    ops = connection.ops
    fixed = (
        ops.adapt_datetimefield_value(timezone.now()),
        Check._meta.get_field("request_id").get_db_prep_save(
            context.current().request_id, connection
        ),
        checker.source,
        batch,
        checker.department.pk,
        checker.api_client.pk if checker.api_client else None,
        checker.user.pk if checker.user else None,
        scenario,
        ops.adapt_datefield_value(on),
        version,
    )
    json = _json_adapter()
    rows: list[Row] = []
    hits: list[list[HitSpec]] = []
    for ans, code, subject_id in zip(answers, codes, subject_ids, strict=True):
        lists, measures = ans["lists"], ans["measures"]
        if not lists:  # the common case: a subject on no list
            rows.append((*fixed, code, subject_id, json([]), json([]), json([]), False, 0))
            hits.append([])
            continue
        rows.append(
            (
                *fixed,
                code,
                subject_id,
                json([item["list"] for item in lists]),
                json([item["entry_id"] for item in lists]),
                json([m["id"] for m in measures]),
                True,
                len(measures),
            )
        )
        hits.append(
            [
                (
                    item["list"],
                    item["entry_id"],
                    sum(1 for m in measures if item["list"] in m["triggered_by"]),
                )
                for item in lists
            ]
        )
    return rows, hits


def insert(rows: Sequence[Row], hits: Sequence[list[HitSpec]]) -> list[int]:
    """Insert in the current connection and transaction; the new ids in row order."""
    ops = connection.ops
    table = ops.quote_name(Check._meta.db_table)
    columns = ", ".join(ops.quote_name(c) for c in COLUMNS)
    one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_INSERT):
            chunk = rows[start : start + ROWS_PER_INSERT]
            cursor.execute(
                f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))} "
                "RETURNING id",
                [v for row in chunk for v in row],
            )
            ids.extend(sorted(r[0] for r in cursor.fetchall()))
        hit_rows = [
            (check_id, *spec) for check_id, specs in zip(ids, hits, strict=True) for spec in specs
        ]
        if hit_rows:
            cursor.executemany(
                f"INSERT INTO {ops.quote_name(CheckHit._meta.db_table)} "
                "(check_id, list_code, entry_id, measure_count) VALUES (%s, %s, %s, %s)",
                hit_rows,
            )
    return ids


def write(rows: Sequence[Row], hits: Sequence[list[HitSpec]]) -> list[int]:
    """Log checks in one transaction (the caller's, if there is one); the ids in row order.

    Outside a caller's transaction the write waits for its turn (``core.writeturn``) before it
    begins, and a single check without lists is one statement, committed by itself.
    """
    if connection.in_atomic_block:
        return insert(rows, hits)
    with database_write():
        if len(rows) == 1 and not hits[0]:
            return insert(rows, hits)
        with transaction.atomic():
            return insert(rows, hits)
