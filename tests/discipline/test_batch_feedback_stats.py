"""Batch checks, feedback and the statistics they feed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from qualitycity.discipline.models import Check, CheckHit, Feedback
from tests.conftest import bearer
from tests.subjects.factories import uscc

from .conftest import TODAY

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/discipline/check"
BATCH = "/api/v1/discipline/check/batch"
FEEDBACK = "/api/v1/discipline/feedback"
STATS = "/api/v1/discipline/stats"


def post(key: str, url: str, body: dict):
    return Client().post(url, body, content_type="application/json", **bearer(key))


def test_a_batch_answers_every_subject_in_order_with_its_own_check(city, check_key):
    key = check_key()
    unknown = [uscc(n) for n in range(1000, 1300)]
    codes = [city["black"], *unknown, city["clean"], "12345", city["red"], city["black"]]
    response = post(key, BATCH, {"subjects": codes, "scenario": "subsidies"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == len(codes) and body["date"] == TODAY.isoformat()
    results = body["results"]
    assert [r["subject"] for r in results] == codes
    statuses = [r["status"] for r in results]
    assert statuses == ["listed", *["not_registered"] * 300, "clean", "invalid", "listed", "listed"]
    invalid = results[-3]
    assert invalid["check_id"] is None and invalid["error"]["code"] == "bad_length"
    check_ids = [r["check_id"] for r in results if r["check_id"] is not None]
    assert len(check_ids) == len(codes) - 1 == len(set(check_ids))
    assert check_ids == sorted(check_ids)
    # The same answer as a single check, logged check by check.
    single = post(key, CHECK, {"subject": city["black"], "scenario": "subsidies"}).json()
    for field in ("lists", "measures", "registered", "status"):
        assert results[0][field] == single[field]
    assert single["data_version"] == body["data_version"]
    logged = {c.pk: c for c in Check.objects.filter(batch=True)}
    assert set(logged) == set(check_ids)
    for r in results:
        if r["check_id"] is None:
            continue
        c = logged[r["check_id"]]
        assert c.subject_code == r["subject"]
        assert c.measures == [m["id"] for m in r["measures"]]
        assert (c.subject_id is not None) == r["registered"]
    assert CheckHit.objects.filter(check_ref__batch=True).count() == 3
    assert len({c.request_id for c in logged.values()}) == 1


def test_a_batch_has_a_maximum_and_a_minimum(city, check_key):
    key = check_key()
    too_many = post(key, BATCH, {"subjects": [city["clean"]] * 10_001, "scenario": "subsidies"})
    assert too_many.status_code == 400 and too_many.json()["code"] == "batch_too_large"
    empty = post(key, BATCH, {"subjects": [], "scenario": "subsidies"})
    assert empty.status_code == 400 and empty.json()["code"] == "batch_empty"
    scenario = post(key, BATCH, {"subjects": [city["clean"]], "scenario": "x"})
    assert scenario.status_code == 400 and scenario.json()["code"] == "unknown_scenario"
    assert not Check.objects.exists()


def test_a_batch_needs_the_scope(city, check_key):
    response = post(
        check_key(scopes=("records.read",)), BATCH, {"subjects": [city["clean"]], "scenario": "x"}
    )
    assert response.status_code == 403


def _checked(key: str, city: dict, scenario: str = "subsidies", who: str = "black") -> dict:
    return post(key, CHECK, {"subject": city[who], "scenario": scenario}).json()


def test_feedback_is_recorded_and_corrected(city, api_key):
    key = api_key(["discipline.check", "discipline.feedback"])
    check = _checked(key, city)
    body = {"check_id": check["check_id"], "measure_id": "subsidy_restriction", "applied": True}
    first = post(key, FEEDBACK, body)
    assert first.status_code == 201, first.content
    assert first.json()["created"] is True and first.json()["department"] == "market"
    corrected = post(key, FEEDBACK, body | {"applied": False, "reason": "补助已于检查前拨付"})
    assert corrected.status_code == 200 and corrected.json()["created"] is False
    [fb] = Feedback.objects.all()
    assert fb.applied is False and fb.reason == "补助已于检查前拨付"
    assert fb.measure_kind == "punishment" and fb.api_client is not None


def test_feedback_rules(city, api_key):
    checker = api_key(["discipline.check", "discipline.feedback"])
    check = _checked(checker, city)
    body = {"check_id": check["check_id"], "measure_id": "subsidy_restriction", "applied": False}
    no_reason = post(checker, FEEDBACK, body)
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    not_returned = post(checker, FEEDBACK, body | {"measure_id": "green_channel", "reason": "x"})
    assert not_returned.status_code == 400
    assert not_returned.json()["code"] == "measure_not_returned"
    missing = post(checker, FEEDBACK, body | {"check_id": 10**9, "reason": "x"})
    assert missing.status_code == 404 and missing.json()["code"] == "check_not_found"
    other_department = api_key(["discipline.feedback"], department="tax")
    refused = post(other_department, FEEDBACK, body | {"reason": "x"})
    assert refused.status_code == 403 and refused.json()["code"] == "not_your_check"
    no_scope = api_key(["discipline.check"])
    assert post(no_scope, FEEDBACK, body | {"reason": "x"}).status_code == 403
    # Another client of the same department may answer for it.
    colleague = api_key(["discipline.feedback"])
    assert post(colleague, FEEDBACK, body | {"applied": True}).status_code == 201


def test_feedback_appears_in_the_statistics(city, api_key, make_user):
    market = api_key(["discipline.check", "discipline.feedback"])
    tax = api_key(["discipline.check", "discipline.feedback"], department="tax")
    black = _checked(market, city)
    _checked(market, city, who="clean")
    _checked(market, city, who="unregistered")
    red = _checked(tax, city, who="red")
    _checked(tax, city, scenario="tax_administration", who="red")
    post(
        market,
        FEEDBACK,
        {"check_id": black["check_id"], "measure_id": "subsidy_restriction", "applied": True},
    )
    post(
        tax,
        FEEDBACK,
        {
            "check_id": red["check_id"],
            "measure_id": "subsidy_priority",
            "applied": False,
            "reason": "申报材料不全",
        },
    )
    from django.test import Client

    from tests.conftest import PASSWORD

    make_user("office", "quality_office")
    client = Client()
    assert client.login(username="office", password=PASSWORD)
    stats = client.get(STATS).json()
    assert stats["totals"] == {
        "checks": 5,
        "hits": 3,
        "not_registered": 1,
        "measures_returned": 3,
        "measures_applied": 1,
        "measures_not_applied": 1,
    }
    by_department = {r["department"]: r for r in stats["by_department"]}
    assert by_department["market"]["checks"] == 3 and by_department["market"]["hits"] == 1
    assert by_department["market"]["measures_applied"] == 1
    assert by_department["tax"]["measures_not_applied"] == 1
    by_scenario = {r["scenario"]: r for r in stats["by_scenario"]}
    assert by_scenario["subsidies"]["checks"] == 4
    assert by_scenario["subsidies"]["measures_returned"] == 2
    assert by_scenario["tax_administration"]["measures_returned"] == 1
    by_list = {r["list"]: r for r in stats["by_list"]}
    assert by_list["food_drug_serious"] == {
        "list": "food_drug_serious",
        "name_zh": "食品药品安全严重违法失信名单",
        "name_en": "Serious dishonesty in food and drug safety",
        "kind": "black",
        "hits": 1,
        "measures_returned": 1,
        "measures_applied": 1,
        "measures_not_applied": 0,
    }
    assert by_list["tax_a"]["hits"] == 2 and by_list["tax_a"]["measures_not_applied"] == 1
    by_measure = {r["measure"]: r for r in stats["by_measure"]}
    assert by_measure["subsidy_priority"]["measures_not_applied"] == 1
    # A department sees its own checks only; a date range before them shows nothing.
    own = Client().get(STATS, **bearer(tax)).json()
    assert own["totals"]["checks"] == 2
    assert [r["department"] for r in own["by_department"]] == ["tax"]
    earlier = (TODAY - dt.timedelta(days=400)).isoformat()
    none = client.get(STATS, {"date_from": earlier, "date_to": earlier}).json()
    assert none["totals"]["checks"] == 0
    bad = client.get(STATS, {"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_date_range"


@pytest.mark.django_db(transaction=True)
def test_concurrent_single_checks_are_each_logged_with_their_own_id(city):
    """Outside a transaction, from many threads at once (as under the web server)."""
    import threading

    from django.db import connection

    from qualitycity.core.models import Department
    from qualitycity.discipline import services

    checker = services.Checker(department=Department.objects.get(code="market"))
    results: list[dict] = []
    errors: list[BaseException] = []

    def run(offset: int) -> None:
        try:
            for i in range(10):
                who = ("black", "red", "clean", "unregistered")[(offset + i) % 4]
                results.append(
                    services.check_run(checker=checker, code=city[who], scenario="subsidies")
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [r["check_id"] for r in results]
    assert len(ids) == 60 == len(set(ids))
    logged = dict(Check.objects.values_list("id", "subject_code"))
    assert {i: logged[i] for i in ids} == {r["check_id"]: r["subject"] for r in results}
    assert CheckHit.objects.count() == sum(len(r["lists"]) for r in results)
