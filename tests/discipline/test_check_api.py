"""The check-before-act API through the real authentication."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from qualitycity.discipline.models import Check, CheckHit
from qualitycity.discipline.selectors import data_version
from tests.conftest import bearer

from .conftest import PUBLISHED, TODAY, make_entry

pytestmark = pytest.mark.django_db

URL = "/api/v1/discipline/check"


def post(key: str | None, body: dict, url: str = URL):
    headers = bearer(key) if key else {}
    return Client().post(url, body, content_type="application/json", **headers)


def ids(measures: list[dict]) -> set[str]:
    return {m["id"] for m in measures}


def test_a_black_listed_subject_checked_for_a_subsidy_gets_the_punishments(city, check_key):
    response = post(check_key(), {"subject": city["black"], "scenario": "subsidies"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"subject", "registered", "lists", "measures", "data_version", "check_id"}
    assert body["subject"] == city["black"]
    assert body["registered"] is True and body["status"] == "listed"
    assert body["date"] == TODAY.isoformat() and body["department"] == "market"
    [listed] = body["lists"]
    assert listed["list"] == "food_drug_serious" and listed["kind"] == "black"
    assert listed["name_zh"] == "食品药品安全严重违法失信名单"
    assert listed["published_on"] == PUBLISHED.isoformat() and listed["ends_on"] == "2028-03-01"
    assert listed["entry_id"] > 0
    assert ids(body["measures"]) == {"subsidy_restriction"}
    [measure] = body["measures"]
    assert measure["kind"] == "punishment"
    assert "国发〔2016〕33号" in measure["legal_basis"]
    assert measure["triggered_by"] == ["food_drug_serious"]
    assert measure["text_zh"] and measure["text_en"]
    # Every check is logged, with the lists it found and the measures it returned.
    logged = Check.objects.get(pk=body["check_id"])
    assert logged.subject.code == city["black"] and logged.subject_code == city["black"]
    assert logged.lists == ["food_drug_serious"] and logged.measures == ["subsidy_restriction"]
    assert logged.scenario == "subsidies" and logged.day == TODAY and logged.hit
    assert logged.department.code == "market" and logged.api_client is not None
    assert logged.data_version == body["data_version"] and logged.source == "api"
    assert list(CheckHit.objects.filter(check_ref=logged).values_list("list_code", "measure_count"))
    assert CheckHit.objects.get(check_ref=logged).measure_count == 1


def test_other_scenarios_give_their_own_punishments(city, check_key):
    key = check_key()
    licensing = post(key, {"subject": city["black"], "scenario": "administrative_licensing"})
    assert ids(licensing.json()["measures"]) == {
        "licence_strict_review",
        "licence_reapplication_bar",
        "no_notification_commitment",
        "food_trade_bar",
    }
    procurement = post(key, {"subject": city["black"], "scenario": "government_procurement"})
    assert ids(procurement.json()["measures"]) == {"procurement_major_violation"}


def test_a_red_listed_subject_gets_the_incentives(city, check_key):
    body = post(check_key(), {"subject": city["red"], "scenario": "subsidies"}).json()
    assert body["status"] == "listed"
    assert [item["kind"] for item in body["lists"]] == ["red"]
    assert ids(body["measures"]) == {"subsidy_priority"}
    assert body["measures"][0]["kind"] == "reward"
    tax = post(check_key(), {"subject": city["red"], "scenario": "tax_administration"}).json()
    assert ids(tax["measures"]) == {"tax_a_services"}
    assert "第三十条" in tax["measures"][0]["legal_basis"]


def test_no_incentive_while_also_on_a_black_list(city, check_key):
    body = post(check_key(), {"subject": city["both"], "scenario": "subsidies"}).json()
    assert {item["list"] for item in body["lists"]} == {"tax_a", "court_dishonest"}
    assert ids(body["measures"]) == {"subsidy_restriction"}


def test_a_clean_registered_subject_gets_none_and_is_registered(city, check_key):
    body = post(check_key(), {"subject": city["clean"], "scenario": "subsidies"}).json()
    assert body["registered"] is True and body["status"] == "clean"
    assert body["lists"] == [] and body["measures"] == []
    assert Check.objects.get(pk=body["check_id"]).hit is False


def test_an_unregistered_code_is_not_registered_rather_than_clean(city, check_key):
    response = post(check_key(), {"subject": city["unregistered"], "scenario": "subsidies"})
    assert response.status_code == 200
    body = response.json()
    assert body["registered"] is False and body["status"] == "not_registered"
    assert body["lists"] == [] and body["measures"] == []
    logged = Check.objects.get(pk=body["check_id"])
    assert logged.subject is None and logged.subject_code == city["unregistered"]


def test_codes_are_normalised(city, check_key):
    spaced = " ".join([city["black"][:6], city["black"][6:12], city["black"][12:].lower()])
    body = post(check_key(), {"subject": spaced, "scenario": "subsidies"}).json()
    assert body["subject"] == city["black"] and body["status"] == "listed"


@pytest.mark.parametrize(
    ("code", "error"),
    [("9137020200000001", "bad_length"), ("91370202000000019R", "bad_check"), ("", "empty")],
)
def test_a_malformed_code_answers_400_with_the_identifier_check(city, check_key, code, error):
    response = post(check_key(), {"subject": code, "scenario": "subsidies"})
    assert response.status_code == 400
    assert response.json()["code"] == error
    assert not Check.objects.exists()


def test_an_unknown_scenario_answers_400_listing_the_valid_ones(city, check_key):
    response = post(check_key(), {"subject": city["black"], "scenario": "lottery"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_scenario"
    assert "subsidies" in body["details"]["valid"] and "market_access" in body["details"]["valid"]


def test_an_unknown_department_answers_400_and_another_one_403(city, check_key):
    key = check_key()
    unknown = post(key, {"subject": city["black"], "scenario": "subsidies", "department": "xx"})
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_department"
    other = post(key, {"subject": city["black"], "scenario": "subsidies", "department": "tax"})
    assert other.status_code == 403 and other.json()["code"] == "department_mismatch"
    own = post(key, {"subject": city["black"], "scenario": "subsidies", "department": "market"})
    assert own.status_code == 200


def test_no_key_is_401_and_a_key_without_the_scope_403(city, check_key):
    anonymous = post(None, {"subject": city["black"], "scenario": "subsidies"})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    wrong = post("not-a-key", {"subject": city["black"], "scenario": "subsidies"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_key"
    no_scope = post(
        check_key(scopes=("subjects.read",)), {"subject": city["black"]} | {"scenario": "subsidies"}
    )
    assert no_scope.status_code == 403
    assert no_scope.json()["details"] == {"scope": "discipline.check"}
    assert not Check.objects.exists()


def test_clients_are_rate_limited_like_every_client(city, api_key):
    key = api_key(["discipline.check"], rate_limit="2/m")
    body = {"subject": city["clean"], "scenario": "subsidies"}
    assert [post(key, body).status_code for _ in range(3)] == [200, 200, 429]


def test_a_day_before_the_entry_was_published_is_not_listed(city, check_key):
    before = PUBLISHED - dt.timedelta(days=1)
    body = post(
        check_key(),
        {"subject": city["black"], "scenario": "subsidies", "date": before.isoformat()},
    ).json()
    assert body["status"] == "clean" and body["lists"] == [] and body["measures"] == []
    on_the_day = post(
        check_key(),
        {"subject": city["black"], "scenario": "subsidies", "date": PUBLISHED.isoformat()},
    ).json()
    assert on_the_day["status"] == "listed"
    assert Check.objects.get(pk=body["check_id"]).day == before


def test_publication_end_and_repair_take_the_subject_off_the_list(city, check_key):
    from qualitycity.subjects.models import Subject

    subject = Subject.objects.get(code=city["clean"])
    make_entry(subject, "watch", published_on=dt.date(2025, 1, 1), ends_on=dt.date(2026, 1, 1))
    make_entry(
        subject,
        "product_quality_serious",
        published_on=dt.date(2025, 1, 1),
        state="repaired",
        ended_on=dt.date(2025, 6, 1),
    )
    key = check_key()

    def lists_on(day: str) -> set[str]:
        body = post(key, {"subject": city["clean"], "scenario": "supervision", "date": day})
        return {item["list"] for item in body.json()["lists"]}

    assert lists_on("2025-05-31") == {"watch", "product_quality_serious"}
    assert lists_on("2025-06-01") == {"watch"}
    assert lists_on("2025-12-31") == {"watch"}
    assert lists_on("2026-01-01") == set()


def test_a_future_date_is_refused(city, check_key):
    response = post(
        check_key(), {"subject": city["black"], "scenario": "subsidies", "date": "2030-01-01"}
    )
    assert response.status_code == 400 and response.json()["code"] == "date_in_future"


def test_measures_apply_only_while_in_force(city, check_key):
    """no_notification_commitment took effect on 2021-09-01; licence_strict_review earlier."""
    from qualitycity.subjects.models import Subject

    make_entry(
        Subject.objects.get(code=city["clean"]),
        "product_quality_serious",
        published_on=dt.date(2021, 1, 4),
        ends_on=dt.date(2024, 1, 4),
    )
    key = check_key()

    def measures_on(day: str) -> set[str]:
        body = post(
            key,
            {"subject": city["clean"], "scenario": "administrative_licensing", "date": day},
        )
        return ids(body.json()["measures"])

    assert measures_on("2021-08-31") == {"licence_strict_review", "licence_reapplication_bar"}
    assert measures_on("2021-09-01") == {
        "licence_strict_review",
        "licence_reapplication_bar",
        "no_notification_commitment",
    }


def test_measures_for_persons_only(city, check_key):
    key = check_key()
    person = post(key, {"subject": city["person"], "scenario": "public_service_positions"}).json()
    assert ids(person["measures"]) == {"soe_executive_bar", "civil_service_bar"}
    company = post(key, {"subject": city["both"], "scenario": "public_service_positions"}).json()
    assert company["status"] == "listed" and company["measures"] == []


def test_the_data_version_changes_with_list_data(city, check_key, make_user):
    from qualitycity.lists import services as list_services
    from qualitycity.subjects.models import Subject

    office = make_user("office-dv", "quality_office")
    key = check_key()

    def version() -> str:
        body = {"subject": city["clean"], "scenario": "subsidies"}
        return post(key, body).json()["data_version"]

    first = version()
    assert first == data_version()
    assert version() == first
    entry = list_services.entry_propose(
        list_code="watch",
        subject=Subject.objects.get(code=city["clean"]),
        reason="重点关注",
        actor=office,
    )
    second = version()
    assert second != first
    list_services.entry_withdraw(entry=entry, actor=office, reason="误报")
    third = version()
    assert third != second
    assert first.split(".")[0] == third.split(".")[0]  # the catalogue did not change


def test_a_session_user_of_the_quality_office_checks_for_a_named_department(
    city, make_user, client
):
    from tests.conftest import PASSWORD

    make_user("office", "quality_office")
    assert client.login(username="office", password=PASSWORD)
    body = {"subject": city["black"], "scenario": "subsidies", "department": "development"}
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 200, response.content
    logged = Check.objects.get(pk=response.json()["check_id"])
    assert logged.department.code == "development" and logged.user.username == "office"
    missing = client.post(
        URL, {"subject": city["black"], "scenario": "subsidies"}, content_type="application/json"
    )
    assert missing.status_code == 400 and missing.json()["code"] == "department_required"


def test_the_catalogue_and_scenarios_are_public(city):
    client = Client()
    scenarios = client.get("/api/v1/discipline/scenarios").json()
    assert {"code": "subsidies", "name_zh": "财政资金补助与政策扶持"}.items() <= scenarios[
        3
    ].items()
    measures = client.get("/api/v1/discipline/measures", {"date": "2020-01-01"}).json()
    assert "no_notification_commitment" not in {m["id"] for m in measures}
    assert all(m["legal_basis"] for m in measures)


def test_the_single_check_reads_the_lists_apps_rule_for_in_force(city):
    """The one-statement read of a single check agrees with lists.selectors.entries_in_force
    (which the batch uses) on every day around every boundary."""
    import random

    from qualitycity.discipline.selectors import lookup_one
    from qualitycity.lists.selectors import entries_in_force
    from qualitycity.subjects.models import Subject

    rng = random.Random(7)
    subject = Subject.objects.get(code=city["clean"])
    start = dt.date(2024, 1, 1)
    codes = ["watch", "tax_a", "ip_serious", "customs_advanced", "environment_serious"]
    for code in codes:
        published = start + dt.timedelta(days=rng.randrange(300))
        ends = published + dt.timedelta(days=rng.randrange(1, 400)) if rng.random() < 0.7 else None
        ended = published + dt.timedelta(days=rng.randrange(1, 300)) if rng.random() < 0.4 else None
        make_entry(
            subject,
            code,
            published_on=published,
            ends_on=ends,
            ended_on=ended,
            state="repaired" if ended else "published",
        )
    make_entry(subject, "quality_award", published_on=None, state="proposed")
    for offset in range(0, 800, 3):
        day = start + dt.timedelta(days=offset)
        looked, _version = lookup_one(city["clean"], day)
        expected = entries_in_force([subject.pk], day).get(subject.pk, [])
        assert sorted(e.id for e in looked.entries) == sorted(e.id for e in expected), day
