"""The staff page (check, feedback, statistics, recent checks), the catalogue page and the CLI."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from qualitycity.discipline.models import Check, Feedback
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(make_user, username: str, role: str, department: str | None = None) -> Client:
    make_user(username, role, department)
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def test_the_page_checks_a_subject_with_htmx_and_shows_measures_with_legal_bases(city, make_user):
    client = login(make_user, "office", "quality_office")
    page = client.get("/discipline/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "联合奖惩" in text or "Joint reward" in text
    assert 'name="subject"' in text and 'name="scenario"' in text
    response = client.post(
        "/discipline/check/",
        {"subject": city["black"], "scenario": "subsidies", "department": "market", "date": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "食品药品安全严重违法失信名单" in html
    assert "严格限制申请财政性资金项目和政府补贴" in html
    assert "国发〔2016〕33号" in html
    assert "<html" not in html  # a fragment for htmx
    check = Check.objects.get()
    assert check.source == "web" and check.user.username == "office"
    assert check.department.code == "market"
    # The page now lists it among recent checks and counts it.
    page = client.get("/discipline/").content.decode()
    assert f"#{check.pk}" in page and city["black"] in page


def test_the_page_says_not_registered_and_clean_differently(city, make_user):
    client = login(make_user, "office", "quality_office")
    body = {"scenario": "subsidies", "department": "market"}
    unknown = client.post("/discipline/check/", body | {"subject": city["unregistered"]})
    clean = client.post("/discipline/check/", body | {"subject": city["clean"]})
    assert "status-not_registered" in unknown.content.decode()
    assert "status-clean" in clean.content.decode()


def test_form_errors_are_shown_on_their_fields(city, make_user):
    client = login(make_user, "office", "quality_office")
    bad = client.post(
        "/discipline/check/",
        {"subject": "123", "scenario": "subsidies", "department": "market"},
        HTTP_HX_REQUEST="true",
    )
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    future = client.post(
        "/discipline/check/",
        {
            "subject": city["black"],
            "scenario": "subsidies",
            "department": "market",
            "date": "2031-01-01",
        },
    )
    assert future.status_code == 400
    assert not Check.objects.exists()


def test_feedback_from_the_page(city, make_user):
    client = login(make_user, "officer", "data_officer", "market")
    # Data officers may look but not check unless their role has the scope.
    page = client.get("/discipline/").content.decode()
    office = login(make_user, "office", "quality_office")
    office.post(
        "/discipline/check/",
        {"subject": city["black"], "scenario": "subsidies", "department": "market"},
    )
    check = Check.objects.get()
    response = office.post(
        f"/discipline/checks/{check.pk}/feedback/",
        {"measure_id": "subsidy_restriction", "applied": "0", "reason": ""},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    response = office.post(
        f"/discipline/checks/{check.pk}/feedback/",
        {"measure_id": "subsidy_restriction", "applied": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert Feedback.objects.get().applied is True
    assert 'name="subject"' not in page


def test_a_data_officer_sees_the_statistics_of_their_own_department(city, make_user, api_key):
    tax_key = api_key(["discipline.check"], department="tax")
    Client().post(
        "/api/v1/discipline/check",
        {"subject": city["red"], "scenario": "subsidies"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tax_key}",
    )
    officer = login(make_user, "officer", "data_officer", "market")
    page = officer.get("/discipline/").content.decode()
    assert city["red"] not in page
    office = login(make_user, "office", "quality_office")
    assert city["red"] in office.get("/discipline/").content.decode()


def test_the_catalogue_page(city, make_user):
    client = login(make_user, "office", "quality_office")
    page = client.get("/discipline/measures/").content.decode()
    assert "《中华人民共和国政府采购法》第二十二条" in page
    assert "限制高消费" in page


def test_the_pages_need_a_staff_login(city, make_user):
    assert Client().get("/discipline/").status_code == 302
    enterprise = login(make_user, "firm", "enterprise")
    assert enterprise.get("/discipline/").status_code == 403
    assert enterprise.get("/discipline/measures/").status_code == 403


def test_the_cli_answers_in_json(city):
    out = io.StringIO()
    call_command("check", city["black"], scenario="subsidies", json=True, stdout=out)
    body = json.loads(out.getvalue())
    assert body["status"] == "listed" and body["registered"] is True
    assert [m["id"] for m in body["measures"]] == ["subsidy_restriction"]
    assert body["department"] == "credit_centre"
    check = Check.objects.get(pk=body["check_id"])
    assert check.source == "cli" and check.api_client is None and check.user is None


def test_the_cli_in_text_and_its_errors(city):
    out = io.StringIO()
    call_command("check", city["red"], scenario="subsidies", department="tax", stdout=out)
    text = out.getvalue()
    assert "LISTED" in text and "subsidy_priority" in text and "A级纳税人名单" in text
    out = io.StringIO()
    call_command("check", city["unregistered"], scenario="subsidies", stdout=out)
    assert "NOT REGISTERED" in out.getvalue()
    with pytest.raises(CommandError, match="unknown_scenario.*valid: market_access"):
        call_command("check", city["red"], scenario="lottery")
    with pytest.raises(CommandError, match="bad_length"):
        call_command("check", "123", scenario="subsidies")
    with pytest.raises(CommandError, match="unknown_department"):
        call_command("check", city["red"], scenario="subsidies", department="nowhere")


def test_without_a_scenario_check_is_still_the_system_check():
    out = io.StringIO()
    call_command("check", stdout=out)
    assert "no issues" in out.getvalue()
