"""Storing records on SQLite: what the table's checks cost per row, and what the platform does.

    python benchmarks/bench_ingest.py --dir D --runs 1     # builds D once (home, CSV)
    python benchmarks/bench_record_store.py --dir D [--rounds 2]

Reads the rows of ``D``'s CSV once, as the tuples the ingestion pipeline inserts, then for
each variant copies ``D``'s pristine database and stores all rows into a bare table made from
``records_record``'s own definition, by ``executemany`` in 50,000-row transactions (as the
pipeline), with the connection settings of the platform. Variants, in the order run:

- ``django_default``: the table as Django makes it on SQLite (``CHECK (JSON_VALID(data))``,
  ``AUTOINCREMENT``), SQLite checking every row's three foreign keys: the baseline;
- ``no_json_check``: without the JSON check (the platform's ``WrittenJSONField``);
- ``platform``: also foreign keys checked once a batch (what ingestion does now);
- ``platform_rowid``: also without ``AUTOINCREMENT`` (measured, not adopted).

Prints rows/s per round, the median per variant and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import statistics
import sys
import time
from pathlib import Path

PARENTS = ((1, "core_department"), (2, "subjects_subject"), (11, "records_sourcefile"))
VARIANTS = ("django_default", "no_json_check", "platform", "platform_rowid")
WRITE_ROWS = 50_000
JSON_CHECK = ' CHECK ((JSON_VALID("data") OR "data" IS NULL))'
COLUMNS = (
    "dataset, department_id, subject_id, source_record_id, category, polarity, severity, "
    "decision_date, is_public, version, data, source_file_id, row_number, submitted_at"
)


def load_rows(base: Path) -> list[tuple]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qualitycity.settings")
    os.environ["QUALITYCITY_HOME"] = str(base / "home")
    import django

    django.setup()
    from qualitycity.records.catalogue import get_dataset
    from qualitycity.records.ingest.engine import dumps

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_ingest import CATEGORY_CODES, FIELDS

    con = sqlite3.connect(base / "pristine.sqlite3")
    ids = dict(con.execute("SELECT code, id FROM subjects_subject"))
    dept = con.execute("SELECT id FROM core_department WHERE code = 'market'").fetchone()[0]
    con.close()
    ds = get_dataset("admin_penalty")
    severity = ds.severity_from.map
    rows = []
    with open(base / "market__admin_penalty.csv", newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for n, cells in enumerate(reader, 2):
            data = dict(zip(FIELDS, cells, strict=True))
            data["penalty_category"] = CATEGORY_CODES[data["penalty_category"]]
            rows.append(
                ("admin_penalty", dept, ids[data["subject_code"]], data["decision_no"],
                 "penalty", "negative", severity[data["penalty_category"]],
                 data["decision_date"], True, 1, dumps(data), 1, n, "2024-01-01 00:00:00")
            )  # fmt: skip
    return rows


def store(base: Path, rows: list[tuple], variant: str) -> float:
    db = base / "store-variant.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(base / "pristine.sqlite3", db)
    con = sqlite3.connect(db, isolation_level=None)
    con.executescript(  # the platform's connection settings (settings.py)
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
        " PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY; PRAGMA foreign_keys=ON;"
    )
    con.execute(
        "INSERT INTO records_sourcefile (id, created_at, updated_at, sha256, dataset,"
        " original_name, stored_path, size, file_format, encoding, channel, status, refusal_code,"
        " refusal_message, rows, accepted, rejected, duplicates, updated, reasons,"
        " department_id, backfill, received_at) VALUES (1, '2024-01-01', '2024-01-01', '0',"
        " 'admin_penalty', 'bench', '', 0, 'csv', 'utf-8', 'cli', 'processed', '', '', 0, 0, 0,"
        " 0, 0, '{}', ?, 0, '2024-01-01')",
        (rows[0][1],),
    )
    ddl = [
        r[0]
        for r in con.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'records_record' AND sql IS NOT NULL"
            " ORDER BY type DESC"  # the table, then its indexes
        )
    ]
    table = ddl[0].replace('"records_record"', '"bench_store"').replace(JSON_CHECK, "")
    if variant == "django_default":
        table = table.replace('"data" text NOT NULL', f'"data" text NOT NULL{JSON_CHECK}')
    if variant == "platform_rowid":
        table = table.replace(" AUTOINCREMENT", "")
    con.execute(table)
    for index in ddl[1:]:
        con.execute(
            index.replace('"records_record"', '"bench_store"').replace('INDEX "', 'INDEX "b_')
        )
    batch_checked = variant.startswith("platform")
    if batch_checked:
        con.execute("PRAGMA foreign_keys=OFF")
    sql = f"INSERT INTO bench_store ({COLUMNS}) VALUES ({', '.join('?' * 14)})"  # noqa: S608
    t = time.perf_counter()
    for i in range(0, len(rows), WRITE_ROWS):
        chunk = rows[i : i + WRITE_ROWS]
        con.execute("BEGIN IMMEDIATE")
        if batch_checked:  # as records.ingest.engine.insert_records: each parent once, in order
            for column, parent in (
                (1, "core_department"),
                (2, "subjects_subject"),
                (11, "records_sourcefile"),
            ):
                wanted = sorted({r[column] for r in chunk})
                found = con.execute(
                    f"SELECT count(*) FROM {parent} WHERE id IN (SELECT value FROM json_each(?))",  # noqa: S608
                    (json.dumps(wanted),),
                ).fetchone()[0]
                assert found == len(wanted), (parent, found, len(wanted))
        con.executemany(sql, chunk)
        con.execute("COMMIT")
    elapsed = time.perf_counter() - t
    con.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, required=True, help="a bench_ingest.py --dir")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not (args.dir / "pristine.sqlite3").exists():
        raise SystemExit(f"{args.dir} has no pristine.sqlite3: run bench_ingest.py --dir first")
    rows = load_rows(args.dir)
    rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(1, args.rounds + 1):
        for variant in VARIANTS:
            rate = store(args.dir, rows, variant)
            rates[variant].append(rate)
            print(f"round {r}: {variant:15} {rate:>9,.0f} rows/s", flush=True)
    base = statistics.median(rates["django_default"])
    print(f"\n{len(rows):,} rows, SQLite {sqlite3.sqlite_version}, median of {args.rounds}:")
    for variant in VARIANTS:
        med = statistics.median(rates[variant])
        print(f"  {variant:15} {med:>9,.0f} rows/s  ratio {med / base:.2f}")


if __name__ == "__main__":
    main()
