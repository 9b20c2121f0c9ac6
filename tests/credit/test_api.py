"""The evaluation API: the class is for holders of credit.read only; runs and comparisons."""

from __future__ import annotations

import pytest
from django.test import Client

from qualitycity.credit.services import evaluate
from tests.conftest import bearer

from . import data

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def city():
    codes = data.build()
    evaluate(engine="duckdb", as_of=data.AS_OF)
    return codes


def test_a_subjects_evaluation_needs_a_key_with_credit_read(city, api_key):
    client = Client()
    url = f"/api/v1/subjects/{city['decaying']}/evaluation"
    anonymous = client.get(url)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    no_scope = client.get(url, **bearer(api_key(["subjects.read", "records.read"])))
    assert no_scope.status_code == 403 and no_scope.json()["details"] == {"scope": "credit.read"}
    ok = client.get(url, **bearer(api_key(["credit.read"])))
    assert ok.status_code == 200
    body = ok.json()
    assert (body["risk_class"], body["score"], body["base_score"]) == ("B", "81.15", "80.00")
    assert body["scorecard"]["id"] == "enterprise" and body["scorecard"]["reference"]
    by_id = {i["id"]: i for i in body["indicators"]}
    assert set(by_id) == {"penalties_general", "fines", "tax_grade_a", "honours"}
    assert body["indicators"][0]["id"] == "penalties_general"  # the largest deduction first
    penalties = by_id["penalties_general"]
    assert penalties["points"] == "-7.60" and penalties["value"] == 1.9
    # The records behind it: the three in the window, not the older one nor the later one.
    assert [r["decision_date"] for r in penalties["records"]] == [
        "2026-03-01",
        "2025-03-01",
        "2023-09-01",
    ]
    assert by_id["fines"]["value_text"].startswith("2.5")


def test_an_override_is_explained_with_its_reason_and_records(city, api_key):
    body = (
        Client()
        .get(f"/api/v1/subjects/{city['debtor']}/evaluation", **bearer(api_key(["credit.read"])))
        .json()
    )
    assert body["risk_class"] == "D"
    assert body["override"]["id"] == "dishonest_judgment_debtor"
    assert body["override"]["reason"]
    assert [r["dataset"] for r in body["override"]["records"]] == ["court_enforcement"]


def test_unknown_and_unevaluated_subjects_answer_404_with_distinct_codes(city, api_key):
    client, key = Client(), api_key(["credit.read"])
    person = client.get(f"/api/v1/subjects/{city['person']}/evaluation", **bearer(key))
    assert person.status_code == 404 and person.json()["code"] == "not_evaluated"
    from tests.subjects.factories import uscc

    unknown = client.get(f"/api/v1/subjects/{uscc(999)}/evaluation", **bearer(key))
    assert unknown.status_code == 404 and unknown.json()["code"] == "subject_not_registered"


def test_the_public_credit_file_never_carries_the_class(city):
    body = Client().get(f"/api/v1/subjects/{city['debtor']}").json()
    text = str(body)
    assert "risk_class" not in text and "dishonest_judgment_debtor" not in text


def test_runs_can_be_started_listed_and_compared_through_the_api(city, api_key):
    client = Client()
    reader = api_key(["credit.read"])
    refused = client.post(
        "/api/v1/credit/evaluations",
        {"engine": "duckdb"},
        content_type="application/json",
        **bearer(reader),
    )
    assert refused.status_code == 403
    evaluator = api_key(["credit.evaluate", "credit.read", "jobs.read"])
    started = client.post(
        "/api/v1/credit/evaluations",
        {"engine": "duckdb", "as_of": data.AS_OF.isoformat()},
        content_type="application/json",
        **bearer(evaluator),
    )
    assert started.status_code == 202
    job = client.get(started.json()["url"], **bearer(evaluator)).json()
    assert job["status"] == "succeeded"
    run_id = job["outcome"]["run_id"]
    runs = client.get("/api/v1/credit/evaluations", **bearer(reader)).json()
    assert [r["run_id"] for r in runs][:2] == [run_id, run_id - 1]
    detail = client.get(f"/api/v1/credit/evaluations/{run_id}", **bearer(reader)).json()
    assert detail["engine"] == "duckdb" and detail["previous_run_id"] == run_id - 1
    comparison = detail["comparison"]
    assert comparison["overall"] == {
        "total": 8,
        "up": 0,
        "down": 0,
        "same": 8,
        "new": 0,
        "moved": 0,
    }
    assert {row["code"] for row in comparison["by_district"]} == {"370202"}
    future = client.post(
        "/api/v1/credit/evaluations",
        {"as_of": "2999-01-01"},
        content_type="application/json",
        **bearer(evaluator),
    )
    assert future.status_code == 400 and future.json()["code"] == "as_of_in_future"
