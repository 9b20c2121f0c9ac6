"""Evaluation runs: what a run records, history between runs, defined results at the edges,
and the command line."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core.management import CommandError, call_command

from qualitycity.core.errors import ApplicationError
from qualitycity.core.models import Job
from qualitycity.credit import engines
from qualitycity.credit.models import EvaluationResult, EvaluationRun
from qualitycity.credit.services import evaluate, evaluation_start
from qualitycity.records.models import Record
from qualitycity.subjects.models import Subject

from . import data

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_run_records_scorecards_as_of_engine_and_the_data_it_read():
    data.build()
    run = evaluate(engine="duckdb", as_of=data.AS_OF)
    assert run.status == EvaluationRun.Status.DONE
    assert [c["id"] for c in run.scorecards] == [
        "enterprise",
        "individual_business",
        "organisation",
    ]
    assert all(c["version"] and c["reference"] for c in run.scorecards)
    read = Record.objects.filter(
        decision_date__lte=data.AS_OF,
        dataset__in=[
            "admin_penalty",
            "tax_rating",
            "honour",
            "court_enforcement",
            "spot_check_result",
            "inspection_result",
            "customs_aeo",
        ],
    )
    assert run.records_read == read.count()
    assert run.latest_decision_date == data.AS_OF  # the coop's penalty, decided that day
    assert run.latest_record_at is not None
    assert set(run.timings) == {"read", "compute", "store"}
    assert run.override_counts == {"dishonest_judgment_debtor": 1, "business_licence_revoked": 1}


def test_the_next_run_records_each_subjects_previous_class():
    codes = data.build()
    first = evaluate(engine="duckdb", as_of=data.AS_OF)
    assert set(
        EvaluationResult.objects.filter(run=first).values_list("previous_class", flat=True)
    ) == {""}
    # The model enterprise loses its tax rating and its honours become heavy penalties:
    # 80 + 6 (AEO) − 10 × (1.0 + 0.6 + 0.3) = 67, A → C.
    subject = Subject.objects.get(code=codes["model"])
    Record.objects.filter(subject=subject, dataset="tax_rating").delete()
    Record.objects.filter(subject=subject, dataset="honour").update(
        dataset="admin_penalty", category="penalty", polarity="negative", severity=3
    )
    second = evaluate(engine="duckdb", as_of=data.AS_OF)
    assert second.previous_run == first
    moved = EvaluationResult.objects.get(run=second, subject=subject)
    assert (moved.previous_class, moved.risk_class, str(moved.score)) == ("A", "C", "67.00")
    same = EvaluationResult.objects.get(run=second, subject__code=codes["offender"])
    assert same.previous_class == same.risk_class == "D"


def test_a_subject_without_records_scores_the_base_and_gets_its_class():
    codes = data.build()
    run = evaluate(engine="duckdb", as_of=data.AS_OF)
    shop = EvaluationResult.objects.get(run=run, subject__code=codes["quiet_shop"])
    assert (str(shop.score), shop.risk_class, shop.contributions) == ("80.00", "B", {})


def test_an_as_of_date_before_every_registration_is_refused_with_the_earliest_date():
    data.build()
    Subject.objects.update(registered_on=dt.date(2026, 3, 1))
    with pytest.raises(ApplicationError) as info:
        evaluate(engine="duckdb", as_of=dt.date(2026, 2, 1))
    assert info.value.code == "nothing_to_evaluate"
    assert "the earliest was registered on 2026-03-01" in info.value.message
    assert not EvaluationRun.objects.exists()


def test_an_empty_registry_and_a_future_date_are_refused():
    with pytest.raises(ApplicationError) as info:
        evaluate(engine="duckdb")
    assert info.value.code == "nothing_to_evaluate" and "registry is empty" in info.value.message
    with pytest.raises(ApplicationError) as info:
        evaluate(engine="duckdb", as_of=dt.date.today() + dt.timedelta(days=2))
    assert info.value.code == "as_of_in_future"
    with pytest.raises(ApplicationError) as info:
        evaluate(engine="oracle")
    assert info.value.code == "unknown_engine"


def test_an_as_of_before_the_scorecards_took_effect_names_the_date():
    data.build()
    with pytest.raises(ApplicationError) as info:
        evaluate(engine="duckdb", as_of=dt.date(2025, 12, 31))
    assert info.value.code == "no_scorecard_in_force" and "2025-12-31" in info.value.message


def test_a_run_that_fails_while_storing_leaves_no_results(monkeypatch):
    data.build()
    calls = {"n": 0}
    from qualitycity.credit import services

    real_insert = services._insert

    def failing_insert(rows):
        calls["n"] += 1
        real_insert(rows)
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_insert", failing_insert)
    with pytest.raises(RuntimeError):
        evaluate(engine="duckdb", as_of=data.AS_OF)
    run = EvaluationRun.objects.get()
    assert run.status == EvaluationRun.Status.FAILED and "disk full" in run.error
    assert calls["n"] == 1 and not EvaluationResult.objects.exists()
    # The next run does not take the failed one as its previous run.
    monkeypatch.setattr(services, "_insert", real_insert)
    assert evaluate(engine="duckdb", as_of=data.AS_OF).previous_run is None


def test_the_sqlite_engine_is_refused_on_another_database_before_any_run(monkeypatch):
    data.build()
    monkeypatch.setattr(engines.connection, "vendor", "postgresql")
    with pytest.raises(ApplicationError) as info:
        evaluate(engine="sqlite", as_of=data.AS_OF)
    assert info.value.code == "engine_unavailable" and "--engine duckdb" in info.value.message
    assert not EvaluationRun.objects.exists()


def test_evaluation_start_queues_a_job_whose_outcome_names_the_run(make_user):
    data.build()
    job = evaluation_start(engine="duckdb", as_of=data.AS_OF, user=make_user("office"))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.kind == "evaluate"
    assert (job.done, job.total, job.unit) == (100, 100, "%")
    run = EvaluationRun.objects.get(pk=job.outcome["run_id"])
    assert run.job == job and run.created_by.username == "office"


def test_the_evaluate_command_prints_one_json_object(capsys):
    data.build()
    call_command("evaluate", "--as-of", data.AS_OF.isoformat(), "--json", "--no-progress")
    out = json.loads(capsys.readouterr().out)
    assert out["engine"] == "duckdb" and out["subjects_evaluated"] == len(data.EXPECTED)
    assert out["class_counts"] == {"A": 1, "B": 4, "C": 0, "D": 3}
    assert EvaluationRun.objects.get().pk == out["run_id"]
    call_command(
        "evaluate",
        "--as-of",
        data.AS_OF.isoformat(),
        "--scorecard",
        "organisation",
        "--no-progress",
    )
    assert re.match(r"run \d+: 1 subjects as of 2026-06-30", capsys.readouterr().out)
    with pytest.raises(CommandError, match="as_of_in_future"):
        call_command("evaluate", "--as-of", "2999-01-01", "--no-progress")
    with pytest.raises(CommandError, match="unknown_scorecard"):
        call_command("evaluate", "--scorecard", "banks", "--no-progress")


def test_subjects_without_any_registration_date_are_evaluated(register_subjects):
    register_subjects({1: "青岛甲有限公司", 2: "青岛乙有限公司"})
    run = evaluate(engine="duckdb", as_of=data.AS_OF)
    assert run.subjects_evaluated == 2 and run.class_counts["B"] == 2
