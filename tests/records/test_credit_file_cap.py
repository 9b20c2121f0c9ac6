"""A subject may have thousands of records: credit files list the newest per category."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from qualitycity.core.models import Role
from qualitycity.records import selectors
from tests.conftest import PASSWORD, bearer

from .factories_ui import make_record, make_subject

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy():
    subject = make_subject(name="青岛繁忙贸易有限公司")
    for day in (1, 2, 3):
        make_record(subject=subject, decision_date=dt.date(2024, 5, day), record_id=f"P-{day}")
    make_record(subject=subject, dataset="honour", record_id="H-1")
    return subject


def test_selector_caps_each_category_and_counts_them_all(busy, make_user):
    cf = selectors.credit_file(subject=busy, actor=make_user("qo"), per_category=2)
    penalties = next(g for g in cf.groups if g.code == "penalty")
    assert [r.source_record_id for r in penalties.records] == ["P-3", "P-2"]
    assert (penalties.total, penalties.more) == (3, 1)
    assert cf.record_count == 4 and cf.counts == {"negative": 3, "positive": 1}
    full = selectors.credit_file(subject=busy, actor=make_user("qo2"))
    assert [g.more for g in full.groups] == [0, 0]


def test_staff_page_shows_the_newest_and_a_link_to_all(
    busy, client: Client, make_user, monkeypatch
):
    from qualitycity.records import views

    monkeypatch.setattr(views, "CREDIT_FILE_PER_CATEGORY", 2)
    make_user("qo", Role.QUALITY_OFFICE)
    client.login(username="qo", password=PASSWORD)
    html = client.get(f"/records/files/{busy.code}/").content.decode()
    assert "P-3" in html and "P-2" in html and "P-1" not in html
    assert "?all=1#category-penalty" in html
    html = client.get(f"/records/files/{busy.code}/?all=1").content.decode()
    assert "P-1" in html and "?all=1#" not in html


def test_public_page_is_capped_too(busy, client: Client, monkeypatch):
    from qualitycity.portal import views

    monkeypatch.setattr(views, "PER_CATEGORY", 1)
    html = client.get(f"/credit/{busy.code}/").content.decode()
    assert "2024-05-03" in html and "2024-05-02" not in html
    assert "?all=1#category-penalty" in html and "显示全部 3 条记录" in html
    assert "2024-05-01" in client.get(f"/credit/{busy.code}/?all=1").content.decode()


def test_api_per_category(busy, client: Client, api_key):
    key = api_key(["subjects.read"])
    body = client.get(f"/api/v1/subjects/{busy.code}?per_category=1", **bearer(key)).json()
    penalty = next(c for c in body["categories"] if c["category"] == "penalty")
    assert penalty["total"] == 3 and len(penalty["records"]) == 1
    assert body["record_count"] == 4
    body = client.get(f"/api/v1/subjects/{busy.code}", **bearer(key)).json()
    assert sum(len(c["records"]) for c in body["categories"]) == 4
    response = client.get(f"/api/v1/subjects/{busy.code}?per_category=0", **bearer(key))
    assert response.status_code == 400 and response.json()["code"] == "invalid_per_category"
