"""Where the compiled expression runs, and how each engine gets its two input tables.

``duckdb`` (default)
    The operational records are exported to Arrow (ADBC: one columnar read from SQLite or
    PostgreSQL) and registered in an in-process DuckDB.
``sqlite``
    ibis' SQLite backend on the operational SQLite database itself: the input tables are
    temporary views, nothing is exported. For small installations; refused on PostgreSQL.
``spark``
    The Arrow export is written as Parquet and read by a Spark session (``local[2]`` unless
    ``QUALITYCITY_SPARK_MASTER`` names a cluster). Needs the ``[spark]`` extra and Java 17.

Every engine answers with an Arrow table; the expression is the same object for all three.
"""

from __future__ import annotations

import atexit
import datetime as dt
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import connection

from qualitycity.core.errors import ApplicationError

from . import compiler
from .scorecard import Scorecard

ENGINES = ("duckdb", "sqlite", "spark")


class EngineUnavailable(ApplicationError):
    status = 409
    code = "engine_unavailable"


# --- the SQL that reads the operational store ---------------------------------------------------


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(values: Iterable[str]) -> str:
    return "(" + ", ".join(_quote(v) for v in sorted(values)) + ")"


def field_datasets(cards: Iterable[Scorecard]) -> dict[str, set[str]]:
    """Data field → the datasets whose records the scorecards read it from."""
    out: dict[str, set[str]] = {}
    for card in cards:
        filters = [(i.filter, i.sum_field) for i in card.indicators if i.filter] + [
            (o.filter, None) for o in card.overrides if o.filter
        ]
        for flt, sum_field in filters:
            names = [name for name, _ in flt.fields] + ([sum_field] if sum_field else [])
            for name in names:
                out.setdefault(name, set()).update(flt.datasets)
    return out


def records_sql(cards: list[Scorecard], as_of: dt.date, vendor: str) -> str:
    """The records the scorecards read, with their data fields as typed columns.

    A field a record does not have reads as ``''`` (codes) or ``0.0`` (numbers), never null:
    the columns keep one type from the first row on, which the SQLite export needs.
    """
    columns = ["subject_id", "dataset", "decision_date", "severity", "polarity"]
    kinds = {}
    for card in cards:
        kinds.update(card.record_fields())
    for name, datasets in sorted(field_datasets(cards).items()):
        path = f"'$.{name}'"
        raw = f"json_extract(data, {path})" if vendor == "sqlite" else f"(data ->> {_quote(name)})"
        if kinds[name] == "number":
            cast = "REAL" if vendor == "sqlite" else "double precision"
            value = f"COALESCE(CAST(NULLIF({raw}, '') AS {cast}), 0.0)"
            alias = f"n_{name}"
        else:
            value = f"COALESCE(CAST({raw} AS TEXT), '')"
            alias = f"f_{name}"
        empty = "0.0" if kinds[name] == "number" else "''"
        columns.append(
            f"CASE WHEN dataset IN {_in(datasets)} THEN {value} ELSE {empty} END AS {alias}"
        )
    where = [
        "decision_date IS NOT NULL",
        f"decision_date <= {_quote(as_of.isoformat())}",
        f"dataset IN {_in(compiler.record_datasets(cards))}",
    ]
    start = compiler.earliest_start(cards, as_of)
    if start is not None:
        where.append(f"decision_date > {_quote(start.isoformat())}")
    return f"SELECT {', '.join(columns)} FROM records_record WHERE {' AND '.join(where)}"


def subjects_sql(cards: list[Scorecard]) -> str:
    types = {t for card in cards for t in card.subject_types}
    return (
        "SELECT id AS subject_id, subject_type, status, registered_on FROM subjects_subject "
        f"WHERE subject_type IN {_in(types)} "
        # Dated rows first: the SQLite export infers a column's type from its first rows.
        "ORDER BY registered_on IS NULL, id"
    )


# --- reading the operational store into Arrow ---------------------------------------------------


def _adbc_connect() -> Any:
    """An ADBC connection to the PostgreSQL store (SQLite is read in ``export_worker``)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        import adbc_driver_postgresql.dbapi as adbc

        return adbc.connect(_postgres_uri(db), autocommit=True)
    raise EngineUnavailable(f"No export from a {connection.vendor} database.")


def _postgres_uri(db: dict[str, Any]) -> str:
    from urllib.parse import quote

    user = quote(db.get("USER") or "")
    password = quote(db.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgresql://{auth}{host}{port}/{quote(str(db['NAME']))}"


def _fetch_arrow(cur: Any, sql: str) -> pa.Table:
    cur.execute(sql)
    return cur.fetch_arrow_table()


def _normalise(table: pa.Table, schema: dict[str, str]) -> pa.Table:
    """Cast an export to the expression's types (SQLite hands dates back as text)."""
    types = {
        "int64": pa.int64(),
        "string": pa.string(),
        "date": pa.date32(),
        "float64": pa.float64(),
    }
    arrays = []
    for name, kind in schema.items():
        col = table.column(name)
        target = types[kind]
        if col.type != target:
            # A column with no value at all (no subject has a registration date) comes back
            # from SQLite typed as an integer: it is simply empty.
            empty = pa.types.is_null(col.type) or col.null_count == len(col)
            col = pa.nulls(len(col), target) if empty else col.cast(target)
        arrays.append(col)
    return pa.table(arrays, names=list(schema))


EXPORT_PARTS_MIN_ROWS = 2_000_000
"""Below this many stored records the export is one query; above, one query per core."""


def _id_ranges(parts: int) -> list[tuple[int, int]]:
    """Split the records' primary keys into ``parts`` contiguous ranges (cheap range scans)."""
    with connection.cursor() as cur:
        cur.execute("SELECT MIN(id), MAX(id) FROM records_record")
        lo, hi = cur.fetchone()
    if lo is None:
        return [(0, 0)]
    step = (hi - lo) // parts + 1
    return [(lo + i * step, min(hi, lo + (i + 1) * step - 1)) for i in range(parts)]


def _stored_records() -> int:
    """A quick estimate of the table's size (its key range), to decide on a split export."""
    with connection.cursor() as cur:
        cur.execute("SELECT MIN(id), MAX(id) FROM records_record")
        lo, hi = cur.fetchone()
    return 0 if lo is None else hi - lo + 1


def _sqlite_export(db_path: str, queries: dict[str, list[str]]) -> dict[str, pa.Table]:
    """Run the export queries in a spawned process (see ``export_worker``) and map its
    Arrow files back in (no copy: the tables stay backed by the files' pages)."""
    import multiprocessing

    from . import export_worker

    tmp_root = Path(settings.HOME) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    out_dir = tempfile.mkdtemp(prefix="export-", dir=tmp_root)
    try:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            paths = pool.apply(export_worker.run, (db_path, queries, out_dir))
        tables = {}
        for name, path in paths.items():
            with pa.memory_map(path, "r") as source:
                tables[name] = pa.ipc.open_file(source).read_all()
        return tables
    finally:
        # Unlinking is safe while the tables map the files: the pages live until unmapped.
        shutil.rmtree(out_dir, ignore_errors=True)


def _read_in_process(queries: dict[str, list[str]]) -> dict[str, pa.Table]:
    """PostgreSQL: the ADBC driver talks to the server; no second SQLite in this process."""
    from concurrent.futures import ThreadPoolExecutor

    def read(sql: str) -> pa.Table:
        with _adbc_connect() as conn, conn.cursor() as cur:
            return _fetch_arrow(cur, sql)

    out = {}
    for name, parts in queries.items():
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            tables = list(pool.map(read, parts))
        tables = [t for t in tables if t.num_rows] or tables[:1]
        out[name] = pa.concat_tables(tables, promote_options="permissive")
    return out


def export_arrow(cards: list[Scorecard], as_of: dt.date) -> tuple[pa.Table, pa.Table]:
    """The subjects and records the scorecards read, as Arrow tables typed for the expression.

    Large stores are read by key range over one connection per core, in parallel.
    """
    columns = compiler.record_columns(cards)
    parts = min(4, os.cpu_count() or 1) if _stored_records() >= EXPORT_PARTS_MIN_ROWS else 1
    sql = records_sql(cards, as_of, connection.vendor)
    record_parts = (
        [sql]
        if parts <= 1
        else [f"{sql} AND id BETWEEN {lo} AND {hi}" for lo, hi in _id_ranges(parts)]
    )
    queries = {"subjects": [subjects_sql(cards)], "records": record_parts}
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        if name in ("", ":memory:") or "mode=memory" in name:
            raise EngineUnavailable("An in-memory SQLite database cannot be exported.")
        tables = _sqlite_export(name, queries)
    else:
        tables = _read_in_process(queries)
    subjects = _normalise(tables["subjects"], compiler.SUBJECT_SCHEMA)
    records = _normalise(tables["records"], {**compiler.RECORD_SCHEMA, **columns})
    return subjects, records


def records_summary(records: pa.Table) -> tuple[int, dt.date | None]:
    """How many records an export holds and the newest decision date among them."""
    import pyarrow.compute as pc

    if records.num_rows == 0:
        return 0, None
    return records.num_rows, pc.max(records.column("decision_date")).as_py()


# --- engines ------------------------------------------------------------------------------------


class Engine(AbstractContextManager):
    """Prepare the input tables once, then evaluate any number of expressions.

    After ``prepare`` an engine knows what it read: ``records_read`` (the records the
    scorecards look at: their datasets, decided on or before the as-of date and inside the
    widest window) and ``latest_decision_date``.
    """

    name = ""
    records_read = 0
    latest_decision_date: dt.date | None = None

    def __init__(self, cards: list[Scorecard], as_of: dt.date):
        self.cards, self.as_of = cards, as_of

    def prepare(self) -> None:
        raise NotImplementedError

    def execute(self, expr: Any) -> pa.Table:
        raise NotImplementedError

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        pass


class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, cards, as_of, *, tables: tuple[pa.Table, pa.Table] | None = None):
        super().__init__(cards, as_of)
        self._tables = tables

    def prepare(self) -> None:
        import duckdb
        import ibis

        subjects, records = self._tables or export_arrow(self.cards, self.as_of)
        self.records_read, self.latest_decision_date = records_summary(records)
        self.raw = duckdb.connect()
        self.raw.register(compiler.SUBJECTS, subjects)
        self.raw.register(compiler.RECORDS, records)
        self.con = ibis.duckdb.from_connection(self.raw)

    def execute(self, expr: Any) -> pa.Table:
        return self.con.to_pyarrow(expr)

    def close(self) -> None:
        if getattr(self, "raw", None) is not None:
            self.raw.close()
            self.raw = None


def check_available(name: str) -> None:
    """Refuse an engine this installation cannot run, before any work is done."""
    if name == "sqlite" and connection.vendor != "sqlite":
        raise EngineUnavailable(
            "The sqlite engine evaluates inside the operational SQLite database; this "
            f"installation runs on {connection.vendor}. Use --engine duckdb or spark.",
            details={"database": connection.vendor},
        )
    if name == "spark":
        import importlib.util

        if importlib.util.find_spec("pyspark") is None:
            raise EngineUnavailable(
                "The spark engine needs the [spark] extra: pip install 'qualitycity[spark]'."
            )
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise EngineUnavailable("The spark engine needs Java 17 (java is not on PATH).")


class SQLiteEngine(Engine):
    name = "sqlite"

    def prepare(self) -> None:
        import ibis

        check_available(self.name)
        name = str(connection.settings_dict["NAME"])
        if name in ("", ":memory:"):
            raise EngineUnavailable("The sqlite engine needs a database file.")
        self.con = ibis.sqlite.connect(name)
        self.con.raw_sql(f"CREATE TEMP VIEW {compiler.SUBJECTS} AS {subjects_sql(self.cards)}")
        self.con.raw_sql(
            f"CREATE TEMP VIEW {compiler.RECORDS} AS "
            f"{records_sql(self.cards, self.as_of, 'sqlite')}"
        )
        cur = self.con.raw_sql(f"SELECT COUNT(*), MAX(decision_date) FROM {compiler.RECORDS}")
        count, latest = cur.fetchone()
        cur.close()
        self.records_read = int(count or 0)
        self.latest_decision_date = dt.date.fromisoformat(latest) if latest else None

    def execute(self, expr: Any) -> pa.Table:
        table = self.con.to_pyarrow(expr)
        return table

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.disconnect()
            self.con = None


def spark_session() -> Any:
    """The process's Spark session (created on first use; local mode unless configured)."""
    check_available("spark")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(os.environ.get("QUALITYCITY_SPARK_MASTER", "local[2]"))
        .appName("qualitycity-evaluate")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("QUALITYCITY_SPARK_PARTITIONS", "8"))
        .config("spark.driver.memory", os.environ.get("QUALITYCITY_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
    )
    # py4j logs each closed gateway connection at INFO, even from interpreter shutdown.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    session = builder.getOrCreate()
    atexit.register(session.stop)
    return session


class SparkEngine(Engine):
    name = "spark"

    def __init__(self, cards, as_of, *, tables: tuple[pa.Table, pa.Table] | None = None):
        super().__init__(cards, as_of)
        self._tables = tables

    def prepare(self) -> None:
        import ibis
        import pyarrow.parquet as pq

        session = spark_session()
        subjects, records = self._tables or export_arrow(self.cards, self.as_of)
        self.records_read, self.latest_decision_date = records_summary(records)
        tmp_root = Path(settings.HOME) / "tmp"
        tmp_root.mkdir(parents=True, exist_ok=True)
        self.dir = Path(tempfile.mkdtemp(prefix="evaluate-", dir=tmp_root))
        for name, table in ((compiler.SUBJECTS, subjects), (compiler.RECORDS, records)):
            path = self.dir / f"{name}.parquet"
            pq.write_table(table, path)
            session.read.parquet(str(path)).createOrReplaceTempView(name)
        self.con = ibis.pyspark.connect(session)

    def execute(self, expr: Any) -> pa.Table:
        return self.con.to_pyarrow(expr)

    def close(self) -> None:
        if getattr(self, "dir", None) is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def engine_for(name: str, cards: list[Scorecard], as_of: dt.date, **kwargs: Any) -> Engine:
    classes = {"duckdb": DuckDBEngine, "sqlite": SQLiteEngine, "spark": SparkEngine}
    if name not in classes:
        raise ApplicationError(
            f"Unknown engine {name!r}; use one of {', '.join(ENGINES)}.",
            code="unknown_engine",
            details={"engines": list(ENGINES)},
        )
    return classes[name](cards, as_of, **kwargs)
