"""One fixture through the three engines: identical classes and scores, and the hand-worked
expectations of ``data.EXPECTED`` (windows, recency, caps, sums, rounding, clamping, overrides)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pyarrow as pa
import pytest
from django.db import connection

from qualitycity.credit import compiler, engines
from qualitycity.credit.models import EvaluationResult
from qualitycity.credit.scorecard import in_force
from qualitycity.credit.services import evaluate

from . import data

pytestmark = pytest.mark.django_db(transaction=True)


def _results(run) -> dict[int, tuple[str, str, str, dict]]:
    return {
        r.subject_id: (str(r.score), r.risk_class, r.override, r.contributions)
        for r in EvaluationResult.objects.filter(run=run)
    }


def _engines_here() -> list[str]:
    """Every engine this database can serve: the sqlite engine runs inside SQLite only."""
    return [e for e in engines.ENGINES if e != "sqlite" or connection.vendor == "sqlite"]


def test_the_engines_agree_with_each_other_and_with_the_hand_worked_figures():
    codes = data.build()
    runs = {name: evaluate(engine=name, as_of=data.AS_OF) for name in _engines_here()}
    by_engine = {name: _results(run) for name, run in runs.items()}

    assert len(by_engine) >= 2
    for name, results in by_engine.items():
        assert results == by_engine["duckdb"], name

    from qualitycity.subjects.models import Subject

    ids = dict(Subject.objects.values_list("code", "id"))
    got = by_engine["duckdb"]
    for key, (score, risk_class, override) in data.EXPECTED.items():
        assert got[ids[codes[key]]][:3] == (score, risk_class, override), key
    for key in data.NOT_EVALUATED:
        assert ids[codes[key]] not in got, key
    assert len(got) == len(data.EXPECTED)
    for run in runs.values():
        assert run.subjects_evaluated == len(data.EXPECTED)
        assert run.class_counts == {"A": 1, "B": 4, "C": 0, "D": 3}


def test_contributions_record_value_and_points_of_every_indicator_that_counted():
    codes = data.build()
    run = evaluate(engine="duckdb", as_of=data.AS_OF)
    result = EvaluationResult.objects.get(run=run, subject__code=codes["decaying"])
    assert result.scorecard == "enterprise"
    assert result.contributions == {
        "penalties_general": [1.9, -7.6],
        "fines": [25000, -0.25],
        "tax_grade_a": [1, 6.0],
        "honours": [1.0, 3.0],
    }
    debtor = EvaluationResult.objects.get(run=run, subject__code=codes["debtor"])
    assert debtor.contributions["young_enterprise"][1] == -4.0
    assert debtor.score == Decimal("71.99")


def _sqlite_file_from(tables: tuple[pa.Table, pa.Table], path) -> None:
    """The exported tables as a SQLite file (dates as ISO text, as SQLite keeps them)."""
    con = sqlite3.connect(path)
    for name, table in zip((compiler.SUBJECTS, compiler.RECORDS), tables, strict=True):
        cols = table.column_names
        con.execute(f"CREATE TABLE {name} ({', '.join(cols)})")
        rows = [
            tuple(v.isoformat() if hasattr(v, "isoformat") else v for v in row.values())
            for row in table.to_pylist()
        ]
        con.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})", rows)
    con.commit()
    con.close()


def test_one_expression_gives_identical_results_on_duckdb_sqlite_and_spark(tmp_path):
    """Engine against engine on one export, whatever the operational database is."""
    import ibis

    data.build()
    cards = in_force(data.AS_OF)
    tables = engines.export_arrow(cards, data.AS_OF)
    columns = compiler.record_columns(cards)
    exprs = [compiler.compile_scorecard(card, data.AS_OF, columns) for card in cards]
    _sqlite_file_from(tables, tmp_path / "engine.sqlite3")
    sqlite = ibis.sqlite.connect(tmp_path / "engine.sqlite3")
    outputs: dict[str, list[pa.Table]] = {"sqlite": [sqlite.to_pyarrow(e) for e in exprs]}
    for name in ("duckdb", "spark"):
        with engines.engine_for(name, cards, data.AS_OF, tables=tables) as eng:
            eng.prepare()
            outputs[name] = [eng.execute(e) for e in exprs]
    for i, card in enumerate(cards):
        reference = outputs["duckdb"][i].sort_by("subject_id")
        assert reference.num_rows > 0, card.id
        for name in ("sqlite", "spark"):
            other = outputs[name][i].sort_by("subject_id").select(reference.column_names)
            assert other.cast(reference.schema).equals(reference), (card.id, name)


def test_the_same_expression_compiles_for_each_engine_dialect():
    cards = in_force(data.AS_OF)
    expr = compiler.compile_scorecard(cards[0], data.AS_OF, compiler.record_columns(cards))
    for dialect in ("duckdb", "sqlite", "pyspark"):
        sql = compiler.to_sql(expr, dialect)
        assert "qc_records" in sql and "qc_subjects" in sql
    # Spark SQL quotes identifiers with backticks; the float literals compile too.
    assert "`" in compiler.to_sql(expr, "pyspark")


def test_a_split_export_reads_the_same_records_as_one_query(monkeypatch):
    data.build()
    cards = in_force(data.AS_OF)
    _, whole = engines.export_arrow(cards, data.AS_OF)
    monkeypatch.setattr(engines, "EXPORT_PARTS_MIN_ROWS", 0)
    monkeypatch.setattr(engines.os, "cpu_count", lambda: 3)
    ranges = engines._id_ranges(3)
    assert len(ranges) == 3 and ranges[0][0] < ranges[-1][1]
    _, split = engines.export_arrow(cards, data.AS_OF)
    keys = [("subject_id", "ascending"), ("decision_date", "ascending"), ("dataset", "ascending")]
    assert split.sort_by(keys).equals(whole.sort_by(keys))
    assert engines.records_summary(split) == (whole.num_rows, data.AS_OF)
