"""The SQLite export, run in a process of its own.

The ADBC SQLite driver carries its own copy of the SQLite library. Two copies of SQLite in one
process do not see each other's POSIX locks (locks belong to the process), so reading with ADBC
while Django's ``sqlite3`` connection is open can fail ("database is locked") or even fault when
one copy rebuilds the WAL index the other has mapped. The export therefore runs in a spawned
process that has no other connection, and hands its Arrow tables back as IPC files.

This module imports only pyarrow and the ADBC driver: a spawned process starts quickly.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa


def _read(db_path: str, sql: str) -> pa.Table:
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(f"file:{db_path}?mode=ro", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetch_arrow_table()


def run(db_path: str, queries: dict[str, list[str]], out_dir: str) -> dict[str, str]:
    """Run each named query (a list of parts read in parallel and concatenated) and write the
    result as an Arrow IPC file in ``out_dir``; return name → file path."""
    out: dict[str, str] = {}
    for name, parts in queries.items():
        if len(parts) == 1:
            table = _read(db_path, parts[0])
        else:
            with ThreadPoolExecutor(max_workers=len(parts)) as pool:
                tables = list(pool.map(lambda sql: _read(db_path, sql), parts))
            # A part with no value in a column may infer another type for it.
            tables = [t for t in tables if t.num_rows] or tables[:1]
            table = pa.concat_tables(tables, promote_options="permissive")
        path = Path(out_dir) / f"{name}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        out[name] = str(path)
    return out
