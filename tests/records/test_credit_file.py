"""Credit files: grouping and order, public masking, identifier errors, audit of unmasked views."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client

from qualitycity.core.models import PersonalDataAccess, Role
from qualitycity.records import selectors
from qualitycity.subjects.models import Subject
from tests.conftest import PASSWORD, bearer

from .factories_ui import make_record, make_resident_id, make_source_file, make_subject, make_uscc

pytestmark = pytest.mark.django_db


@pytest.fixture
def enterprise():
    s = make_subject(name="青岛海晟机械有限公司")
    make_record(
        subject=s, dataset="admin_licence", decision_date=dt.date(2024, 3, 1), record_id="LIC-1"
    )
    make_record(
        subject=s, dataset="admin_penalty", decision_date=dt.date(2024, 5, 1), record_id="PEN-OLD"
    )
    make_record(
        subject=s, dataset="admin_penalty", decision_date=dt.date(2024, 6, 1), record_id="PEN-NEW"
    )
    make_record(subject=s, dataset="honour", decision_date=dt.date(2023, 1, 9), record_id="HON-1")
    make_record(
        subject=s,
        dataset="tax_rating",
        department="tax",
        decision_date=dt.date(2024, 4, 1),
        is_public=False,
        record_id="TAX-B",
    )
    return s


@pytest.fixture
def person():
    s = make_subject(code=make_resident_id("123X"), name="张三丰", kind=Subject.Kind.PERSON)
    make_record(
        subject=s,
        dataset="admin_penalty",
        record_id="PEN-P",
        data={
            "subject_name": "张三丰",
            "subject_code": s.code,
            "legal_representative": "张三丰",
            "decision_no": "青市监罚〔2024〕1号",
        },
    )
    make_record(subject=s, dataset="admin_penalty", record_id="PEN-HIDDEN", is_public=False)
    return s


def test_records_grouped_by_category_in_catalogue_order_newest_first(enterprise, make_user):
    officer = make_user("qo", Role.QUALITY_OFFICE)
    cf = selectors.credit_file(subject=enterprise, actor=officer)
    assert [g.code for g in cf.groups] == ["licence", "penalty", "evaluation", "honour"]
    penalties = next(g for g in cf.groups if g.code == "penalty")
    assert [r.source_record_id for r in penalties.records] == ["PEN-NEW", "PEN-OLD"]
    assert cf.record_count == 5
    rec = penalties.records[0]
    assert rec.department_code == "market"
    assert rec.source_file_name and rec.source_file_name.endswith(".csv")
    assert rec.source_file_date is not None


def test_public_view_shows_public_records_only_without_provenance(enterprise):
    cf = selectors.credit_file(subject=enterprise, actor=AnonymousUser())
    ids = {r.source_record_id for g in cf.groups for r in g.records}
    assert ids == {"LIC-1", "PEN-OLD", "PEN-NEW", "HON-1"}
    assert all(r.source_file_name is None for g in cf.groups for r in g.records)
    data = cf.as_dict()
    assert "source_file" not in data["categories"][0]["records"][0]


def test_record_fields_are_labelled_by_the_catalogue(person, make_user):
    cf = selectors.credit_file(subject=person, actor=make_user("qo", Role.QUALITY_OFFICE))
    fields = {f.name: f for r in cf.groups[0].records for f in r.fields}
    assert fields["decision_no"].label == "行政处罚决定书文号"
    assert fields["legal_representative"].value == "张三丰"


def test_api_anonymous_masks_a_person(client: Client, person):
    response = client.get(f"/api/v1/subjects/{person.code}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["subject"]["code"] == "370202********123X"
    assert body["subject"]["name"] == "张**"
    assert body["masked"] is True
    text = response.content.decode()
    assert person.code not in text and "张三丰" not in text
    records = [r for c in body["categories"] for r in c["records"]]
    assert [r["source_record_id"] for r in records] == ["PEN-P"]
    assert records[0]["fields"]["legal_representative"] == "张**"
    assert PersonalDataAccess.objects.count() == 0


def test_api_staff_key_sees_unmasked_and_is_audited(client: Client, person, api_key):
    key = api_key(["subjects.read"], department="market")
    response = client.get(f"/api/v1/subjects/{person.code}", **bearer(key))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["subject"]["code"] == person.code
    assert body["subject"]["name"] == "张三丰"
    ids = {r["source_record_id"] for c in body["categories"] for r in c["records"]}
    assert ids == {"PEN-P", "PEN-HIDDEN"}
    assert body["categories"][0]["records"][0]["source_file"]["name"]
    access = PersonalDataAccess.objects.get()
    assert access.api_client is not None and access.object_id == str(person.pk)


def test_api_key_without_scope_is_forbidden(client: Client, person, api_key):
    key = api_key(["records.ingest"], department="market")
    response = client.get(f"/api/v1/subjects/{person.code}", **bearer(key))
    assert response.status_code == 403
    assert response.json()["code"] == "missing_scope"


def test_api_bad_key_is_not_downgraded_to_public(client: Client, person):
    response = client.get(f"/api/v1/subjects/{person.code}", HTTP_AUTHORIZATION="Bearer nope")
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (make_uscc(42)[:-1] + ("0" if make_uscc(42)[-1] != "0" else "1"), "bad_check"),
        ("9137020200000", "bad_length"),
        ("B" + make_uscc(42)[1:], "bad_authority"),
    ],
)
def test_api_bad_code_is_400_naming_the_check(client: Client, code, error):
    response = client.get(f"/api/v1/subjects/{code}")
    assert response.status_code == 400
    assert response.json()["code"] == error


def test_api_bad_org_check_digit(client: Client):
    from qualitycity.subjects.identifiers import uscc_check_char

    good = make_uscc(77)
    org_digit = good[16]
    wrong = "0" if org_digit != "0" else "1"
    first17 = good[:16] + wrong
    code = first17 + uscc_check_char(first17)  # a valid mod-31 check over a bad org code
    response = client.get(f"/api/v1/subjects/{code}")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_org_check"


def test_api_unregistered_code_is_404(client: Client):
    response = client.get(f"/api/v1/subjects/{make_uscc(99999)}")
    assert response.status_code == 404
    assert response.json()["code"] == "subject_not_registered"


def test_page_requires_login(client: Client, enterprise):
    response = client.get(f"/records/files/{enterprise.code}/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_page_for_staff_shows_groups_provenance_and_change_log(
    client: Client, enterprise, make_user
):
    make_user("qo", Role.QUALITY_OFFICE)
    client.login(username="qo", password=PASSWORD)
    response = client.get(f"/records/files/{enterprise.code}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "PEN-NEW" in html and "TAX-B" in html
    assert html.index("PEN-NEW") < html.index("PEN-OLD")
    assert 'id="category-licence"' in html
    assert "changes-h" in html  # city-wide roles see the subject's change log


def test_page_audits_unmasked_person_view(client: Client, person, make_user):
    make_user("qo", Role.QUALITY_OFFICE)
    client.login(username="qo", password=PASSWORD)
    response = client.get(f"/records/files/{person.code}/")
    assert response.status_code == 200
    assert "张三丰" in response.content.decode()
    assert PersonalDataAccess.objects.filter(object_id=str(person.pk)).count() == 1


def test_page_bad_code_and_unregistered(client: Client, make_user):
    make_user("qo", Role.QUALITY_OFFICE)
    client.login(username="qo", password=PASSWORD)
    bad = client.get("/records/files/91370202/")
    assert bad.status_code == 400 and "bad_length" in bad.content.decode()
    missing = client.get(f"/records/files/{make_uscc(99998)}/")
    assert missing.status_code == 404


def test_data_officer_sees_only_own_department_records(enterprise, make_user):
    officer = make_user("tax1", Role.DATA_OFFICER, department="tax")
    cf = selectors.credit_file(subject=enterprise, actor=officer)
    ids = {r.source_record_id for g in cf.groups for r in g.records}
    assert ids == {"TAX-B"}
    # other departments' provenance never leaks through the file
    assert make_source_file  # factories stay importable


def test_enterprise_user_sees_all_of_its_own_file_and_public_records_of_others(
    enterprise, make_user
):
    from qualitycity.subjects.models import EnterpriseBinding

    own = make_subject(name="青岛自家贸易有限公司")
    make_record(
        subject=own, dataset="tax_rating", department="tax", is_public=False, record_id="OWN-TAX"
    )
    user = make_user("ent", Role.ENTERPRISE)
    EnterpriseBinding.objects.create(user=user, subject=own)

    mine = selectors.credit_file(subject=own, actor=user)
    assert {r.source_record_id for g in mine.groups for r in g.records} == {"OWN-TAX"}
    other = selectors.credit_file(subject=enterprise, actor=user)
    assert {r.source_record_id for g in other.groups for r in g.records} == {
        "LIC-1",
        "PEN-OLD",
        "PEN-NEW",
        "HON-1",
    }
