"""Search: ranking, fragments, former names, errors, masking and the API through real keys."""

from __future__ import annotations

import pytest
from django.test import Client

from qualitycity.core.errors import ValidationFailed
from qualitycity.core.models import PersonalDataAccess, Role
from qualitycity.subjects.models import Subject
from qualitycity.subjects.selectors import subject_search
from qualitycity.subjects.services import subjects_register
from tests.conftest import PASSWORD, bearer

from .factories import legal_row, person_row, resident_id, uscc

pytestmark = pytest.mark.django_db


@pytest.fixture
def city():
    subjects_register(
        rows=[
            legal_row(1, "青岛啤酒股份有限公司"),
            legal_row(2, "啤酒花青岛贸易有限公司"),  # substring match of 青岛
            legal_row(3, "青岛港有限公司"),  # shorter prefix match of 青岛
            legal_row(4, "崂山海鲜有限公司", former_names=["青岛海鲜厂"]),  # former name
            legal_row(5, "即墨黄酒有限公司"),
            legal_row(6, "平度葡萄种植专业合作社"),
            person_row(1, "张三"),
            person_row(2, "张三丰"),
        ],
        department=None,
    )


def names(result) -> list[str]:
    return [hit.subject.name for hit in result.items]


def test_ranking_prefix_then_substring_former_names_after_current_names(city):
    result = subject_search(q="青岛")
    assert [(h.subject.name, h.match) for h in result.items] == [
        ("青岛港有限公司", "prefix"),  # shortest name first within a rank
        ("青岛啤酒股份有限公司", "prefix"),
        ("崂山海鲜有限公司", "former_prefix"),  # former name 青岛海鲜厂, after current prefixes
        ("啤酒花青岛贸易有限公司", "substring"),
    ]
    assert result.items[2].matched_name == "青岛海鲜厂"
    assert result.total == 4
    assert result.capped is False


def test_former_substring_comes_last(city):
    subjects_register(
        rows=[
            legal_row(7, "海鲜城青岛分店", former_names=["东海海鲜城"]),
            legal_row(8, "黄岛海鲜城有限公司"),
            legal_row(9, "西海岸餐饮管理有限公司", former_names=["西海岸海鲜城"]),
        ],
        department=None,
    )
    result = subject_search(q="海鲜城")
    assert [(h.subject.name, h.match) for h in result.items] == [
        ("海鲜城青岛分店", "prefix"),
        ("黄岛海鲜城有限公司", "substring"),
        ("西海岸餐饮管理有限公司", "former_substring"),
    ]


def test_exact_code_comes_first(city):
    # A code query also matching nothing else still puts the exact code on top, normalised.
    code = uscc(5)
    result = subject_search(q=f" {code[:6]}-{code[6:].lower()} ")
    assert names(result)[0] == "即墨黄酒有限公司"
    assert result.items[0].match == "code"


def test_code_prefix(city):
    result = subject_search(q=uscc(1)[:8])
    assert {h.match for h in result.items} == {"code_prefix"}
    assert result.total == 6  # every company of the factory is in 370202


def test_two_character_fragment_inside_a_name(city):
    assert names(subject_search(q="黄酒")) == ["即墨黄酒有限公司"]
    assert names(subject_search(q="葡萄")) == ["平度葡萄种植专业合作社"]


def test_longer_fragment_is_verified_not_just_bigrams(city):
    # Both bigrams 啤酒 and 酒股 exist, but only one name holds the whole fragment.
    assert names(subject_search(q="啤酒股份")) == ["青岛啤酒股份有限公司"]
    # Every bigram of 青岛有限 is somewhere, the fragment nowhere.
    assert names(subject_search(q="港有限公司")) == ["青岛港有限公司"]
    assert subject_search(q="鲜有限公").total == 1
    assert subject_search(q="青岛有限").total == 0


def test_former_name_substring(city):
    result = subject_search(q="海鲜厂")
    assert names(result) == ["崂山海鲜有限公司"]
    assert result.items[0].match == "former_substring"
    assert result.items[0].matched_name == "青岛海鲜厂"


def test_current_name_before_former_name_of_same_rank(city):
    result = subject_search(q="海鲜")
    assert [h.match for h in result.items] == ["substring"]  # current-name match wins


def test_one_character_is_refused(city):
    for q in ["青", " 青 ", "", "a"]:
        with pytest.raises(ValidationFailed) as exc:
            subject_search(q=q)
        assert exc.value.code == "query_too_short"


def test_limit_offset_and_total(city):
    page1 = subject_search(q="有限", limit=2)
    page2 = subject_search(q="有限", limit=2, offset=2)
    assert page1.total == page2.total == 5
    assert len(page1.items) == 2
    assert not set(names(page1)) & set(names(page2))
    assert page1.has_more


def test_like_wildcards_are_literal(city):
    assert subject_search(q="青%").total == 0
    assert subject_search(q="__").total == 0


def test_many_matches_are_capped(settings):
    from qualitycity.subjects import selectors

    subjects_register(
        rows=[legal_row(n, f"青岛{n}号有限公司") for n in range(1, 31)], department=None
    )
    old = selectors.TOTAL_CAP
    selectors.TOTAL_CAP = 10
    try:
        result = subject_search(q="有限", limit=5)
    finally:
        selectors.TOTAL_CAP = old
    assert result.capped is True
    assert result.total >= 10
    assert len(result.items) == 5


# --- API ------------------------------------------------------------------------------------


def test_api_anonymous_gets_masked_persons(city):
    response = Client().get("/api/v1/subjects", {"q": "张三"})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    first = body["items"][0]
    assert first["name"] == "张*"
    assert first["code"] == resident_id(1)[:6] + "********" + resident_id(1)[-4:]
    assert first["masked"] is True
    assert body["items"][1]["name"] == "张**"
    assert PersonalDataAccess.objects.count() == 0


def test_api_masked_person_code_format(city):
    subjects_register(rows=[person_row(23, "王五", code="37020219800101123X")], department=None)
    body = Client().get("/api/v1/subjects", {"q": "王五"}).json()
    assert body["items"][0]["code"] == "370202********123X"
    assert body["items"][0]["name"] == "王*"


def test_api_search_by_resident_id_masked_for_public(city):
    body = Client().get("/api/v1/subjects", {"q": resident_id(2)}).json()
    assert body["items"][0]["match"] == "code"
    assert body["items"][0]["name"] == "张**"
    assert resident_id(2) not in str(body)


def test_api_key_with_scope_sees_unmasked_and_is_audited(city, api_key):
    key = api_key(["subjects.read"])
    response = Client().get("/api/v1/subjects", {"q": "张三"}, **bearer(key))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["name"] for i in items] == ["张三", "张三丰"]
    assert items[0]["code"] == resident_id(1)
    audits = PersonalDataAccess.objects.all()
    assert audits.count() == 2
    assert {a.api_client.name for a in audits} == {"client-market-1"}
    assert {a.object_id for a in audits} == {
        str(pk) for pk in Subject.objects.filter(kind="person").values_list("pk", flat=True)
    }
    assert all(a.purpose == "api:subjects_search" for a in audits)


def test_api_companies_are_not_audited(city, api_key):
    key = api_key(["subjects.read"])
    Client().get("/api/v1/subjects", {"q": "青岛"}, **bearer(key))
    assert PersonalDataAccess.objects.count() == 0


def test_api_key_without_scope_gets_masked(city, api_key):
    key = api_key(["records.ingest"])
    body = Client().get("/api/v1/subjects", {"q": "张三"}, **bearer(key)).json()
    assert body["items"][0]["name"] == "张*"
    assert PersonalDataAccess.objects.count() == 0


def test_api_bad_key_is_401(city):
    response = Client().get("/api/v1/subjects", {"q": "青岛"}, **bearer("qc_not-a-key"))
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_key"


def test_api_short_query_is_400_envelope(city):
    response = Client().get("/api/v1/subjects", {"q": "青"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "query_too_short"
    assert set(body) == {"code", "message", "details"}


def test_api_missing_query_is_422_envelope(city):
    response = Client().get("/api/v1/subjects")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_api_staff_session_unmasked_and_audited(city, make_user):
    make_user("office", Role.QUALITY_OFFICE)
    client = Client()
    assert client.login(username="office", password=PASSWORD)
    body = client.get("/api/v1/subjects", {"q": "张三丰"}).json()
    assert body["items"][0]["name"] == "张三丰"
    audit = PersonalDataAccess.objects.get()
    assert audit.user.username == "office"


def test_api_in_openapi():
    schema = Client().get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/subjects"]["get"]
    assert operation["operationId"] == "subjects_search"
    assert "200" in operation["responses"]


def test_common_bigrams_drive_from_the_rarest(monkeypatch):
    """有限 is in every name, 限责 in few: the longer names with 有限责任 are still found."""
    from qualitycity.subjects import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    monkeypatch.setattr(selectors, "BIG_COUNT_CAP", 8)
    monkeypatch.setattr(selectors, "MAX_SCAN", 4)
    rows = [legal_row(n, f"青岛{n}有限公司") for n in range(1, 13)]
    rows += [legal_row(n, f"青岛市李沧区第{n}号贸易有限责任公司") for n in range(13, 16)]
    subjects_register(rows=rows, department=None)
    result = subject_search(q="有限责")
    assert result.total == 3
    assert result.capped is False
    # Every bigram of 有限公 is in more names than MAX_SCAN: the shortest are verified only.
    result = subject_search(q="有限公")
    assert result.capped is True
    assert len(result.items) >= 1
