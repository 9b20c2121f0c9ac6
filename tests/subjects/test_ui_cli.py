"""The staff search page (full page, htmx fragment, no-JS form) and the CLI."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from qualitycity.core.models import PersonalDataAccess, Role
from qualitycity.subjects.services import subjects_register
from tests.conftest import PASSWORD

from .factories import legal_row, person_row, resident_id, uscc

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    subjects_register(
        rows=[
            legal_row(1, "青岛啤酒股份有限公司", former_names=["国营青岛啤酒厂"]),
            legal_row(2, "青岛港有限公司"),
            person_row(1, "张三"),
        ],
        department=None,
    )


def _client(make_user, role=Role.QUALITY_OFFICE, department=None) -> Client:
    make_user("u1", role, department)
    client = Client()
    assert client.login(username="u1", password=PASSWORD)
    return client


def test_search_page_needs_login(city):
    response = Client().get("/subjects/", {"q": "青岛"})
    assert response.status_code == 302


def test_search_page_lists_results_linking_to_credit_file(city, make_user):
    client = _client(make_user)
    response = client.get("/subjects/", {"q": "啤酒"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html  # the full page, form and results
    assert 'name="q"' in html
    assert "青岛啤酒股份有限公司" in html
    assert f"/records/files/{uscc(1)}/" in html


def test_htmx_request_gets_only_the_results(city, make_user):
    client = _client(make_user)
    response = client.get("/subjects/", {"q": "青岛"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html
    assert "青岛港有限公司" in html
    assert "国营青岛啤酒厂" not in html or "青岛啤酒股份有限公司" in html


def test_former_name_shown(city, make_user):
    client = _client(make_user)
    html = client.get("/subjects/", {"q": "国营"}).content.decode()
    assert "青岛啤酒股份有限公司" in html
    assert "国营青岛啤酒厂" in html


def test_short_query_message(city, make_user):
    client = _client(make_user)
    response = client.get("/subjects/", {"q": "青"})
    assert response.status_code == 200
    assert 'data-code="query_too_short"' in response.content.decode()


def test_staff_sees_person_unmasked_and_is_audited(city, make_user):
    client = _client(make_user, Role.INSPECTOR, "market")
    html = client.get("/subjects/", {"q": "张三"}).content.decode()
    assert resident_id(1) in html
    assert PersonalDataAccess.objects.get().purpose == "web:subjects_search"


def test_enterprise_user_sees_person_masked(city, make_user):
    client = _client(make_user, Role.ENTERPRISE)
    html = client.get("/subjects/", {"q": "张三"}).content.decode()
    assert resident_id(1) not in html
    assert "张*" in html
    assert PersonalDataAccess.objects.count() == 0


def test_cli_search_json_masked_by_default(city, capsys):
    call_command("subjects", "search", "张三", "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["items"][0]["name"] == "张*"
    assert PersonalDataAccess.objects.count() == 0
    call_command("subjects", "search", "张三", "--json", "--unmasked")
    body = json.loads(capsys.readouterr().out)
    assert body["items"][0]["name"] == "张三"
    assert PersonalDataAccess.objects.count() == 1


def test_cli_show(city, capsys):
    call_command("subjects", "show", uscc(1), "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["name"] == "青岛啤酒股份有限公司"
    assert body["former_names"] == ["国营青岛啤酒厂"]
    call_command("subjects", "show", uscc(1))
    assert "青岛啤酒股份有限公司" in capsys.readouterr().out


def test_cli_errors(city):
    with pytest.raises(CommandError, match="subject_not_registered"):
        call_command("subjects", "show", uscc(9))
    with pytest.raises(CommandError, match="query_too_short"):
        call_command("subjects", "search", "青")
