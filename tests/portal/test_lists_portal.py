"""The public lists: the catalogue, each list's entries in force (natural persons masked), the
entries on a public credit file, and entries that ended (expired, repaired, removed) gone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from qualitycity.core.models import Department, Role
from qualitycity.lists import services
from qualitycity.lists.models import ListEntry
from qualitycity.portal.selectors import subject_ref
from qualitycity.subjects.models import Subject
from qualitycity.subjects.services import subjects_register
from tests.subjects.factories import legal_row, person_row

pytestmark = pytest.mark.django_db


def days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


@pytest.fixture
def city(db) -> dict[str, Subject]:
    rows = [
        legal_row(1, "青岛守信机械有限公司"),
        legal_row(2, "青岛过期贸易有限公司"),
        legal_row(3, "青岛修复食品有限公司"),
        person_row(4, "欧阳失信"),
    ]
    subjects_register(rows=rows, department=Department.objects.get(code="market"), source_file=None)
    by_code = {s.code: s for s in Subject.objects.all()}
    keys = ["firm", "old", "fixed", "person"]
    return {k: by_code[r["code"]] for k, r in zip(keys, rows, strict=True)}


@pytest.fixture
def officer(make_user):
    return make_user("quality", Role.QUALITY_OFFICE)


def publish(list_code: str, subject: Subject, actor, *, on: dt.date) -> ListEntry:
    start = on - dt.timedelta(days=30)
    # A person's reason names them in full, as staff write it; the public must not read it so.
    person = subject.kind == Subject.Kind.PERSON
    who = f"{subject.name}（{subject.code}）" if person else subject.name
    entry = services.entry_propose(
        list_code=list_code, subject=subject, reason=f"{who}的列入理由", actor=actor, on=start
    )
    services.entry_notice(entry=entry, actor=actor, reason="告知", on=start)
    return services.entry_publish(entry=entry, actor=actor, reason="公示", on=on)


@pytest.fixture
def entries(city, officer) -> dict[str, ListEntry]:
    out = {
        "person": publish("court_dishonest", city["person"], officer, on=days_ago(20)),
        "firm": publish("court_dishonest", city["firm"], officer, on=days_ago(40)),
        # A red-list entry valid 12 months, published 13 months ago: its period has ended.
        "old": publish("tax_a", city["old"], officer, on=days_ago(400)),
        "fixed": publish("court_dishonest", city["fixed"], officer, on=dt.date(2025, 1, 6)),
        "removed": publish("tax_major_violation", city["firm"], officer, on=days_ago(10)),
    }
    services.entries_expire()
    application = services.repair_apply(
        actor=officer, entry=out["fixed"], commitment="守法经营", evidence_files=[_pdf()]
    )
    services.repair_decide(actor=officer, application=application, approved=True, reason="已履行")
    services.entry_remove(entry=out["removed"], actor=officer, reason="法院撤销")
    for entry in out.values():
        entry.refresh_from_db()
    return out


def _pdf():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("证明.pdf", b"%PDF-1.4", content_type="application/pdf")


def test_the_states_behind_the_pages(entries):
    assert entries["old"].state == "expired"
    assert entries["fixed"].state == "repaired"
    assert entries["removed"].state == "removed"


def test_a_list_shows_its_entries_in_force_persons_masked(client, city, entries):
    response = client.get(reverse("portal:list", args=["court_dishonest"]))
    assert response.status_code == 200
    text = response.content.decode()
    # The natural person: masked name and ID number, never in full, not even in a link.
    assert "欧***" in text and "欧阳失信" not in text
    assert city["person"].code not in text
    masked_code = city["person"].code[:6] + "********" + city["person"].code[-4:]
    assert masked_code in text
    assert f"欧***（{masked_code}）的列入理由" in text  # the free-text reason masked too
    # The enterprise, with a link to its public credit file, reason, basis and dates.
    assert city["firm"].name in text
    assert reverse("portal:credit_file", args=[city["firm"].code]) in text
    assert "青岛守信机械有限公司的列入理由" in text and "法释〔2017〕7号" in text
    firm = entries["firm"]
    assert firm.published_on.isoformat() in text and firm.publication_ends_on.isoformat() in text
    # The repaired entry is gone.
    assert city["fixed"].name not in text
    assert response.context["data"]["total"] == 2


def test_expired_and_removed_entries_are_not_public(client, city, entries):
    tax_a = client.get(reverse("portal:list", args=["tax_a"])).content.decode()
    assert city["old"].name not in tax_a
    removed = client.get(reverse("portal:list", args=["tax_major_violation"])).content.decode()
    assert city["firm"].name not in removed
    catalogue = client.get(reverse("portal:lists"))
    assert catalogue.status_code == 200
    counts = {
        i["code"]: i["entries_in_force"] for _, items in catalogue.context["groups"] for i in items
    }
    assert counts["court_dishonest"] == 2 and counts["tax_a"] == 0
    assert counts["tax_major_violation"] == 0
    assert reverse("portal:list", args=["court_dishonest"]) in catalogue.content.decode()


def test_an_entry_ends_on_time_even_before_the_expiry_job(client, city, officer):
    # Published 12 months and a day ago: the period ended yesterday; the job has not run.
    entry = publish("tax_a", city["old"], officer, on=days_ago(367))
    assert entry.state == "published" and entry.publication_ends_on <= timezone.localdate()
    text = client.get(reverse("portal:list", args=["tax_a"])).content.decode()
    assert city["old"].name not in text


def test_the_public_credit_file_shows_the_entries_in_force(client, city, entries):
    text = client.get(reverse("portal:credit_file", args=[city["firm"].code])).content.decode()
    assert "失信被执行人名单" in text and "青岛守信机械有限公司的列入理由" in text
    assert "重大税收违法失信主体" not in text  # removed
    person = client.get(reverse("portal:credit_file", args=[subject_ref(city["person"])]))
    body = person.content.decode()
    assert "失信被执行人名单" in body and "欧阳失信" not in body
    fixed = client.get(reverse("portal:credit_file", args=[city["fixed"].code])).content.decode()
    assert "失信被执行人名单" not in fixed


def test_an_unknown_list_is_not_found(client, db):
    assert client.get(reverse("portal:list", args=["no_such_list"])).status_code == 404


def test_the_public_lists_are_rate_limited(client, settings, db):
    settings.QUALITYCITY_PUBLIC_RATE = "2/m"
    assert client.get(reverse("portal:lists")).status_code == 200
    assert client.get(reverse("portal:list", args=["watch"])).status_code == 200
    response = client.get(reverse("portal:lists"))
    assert response.status_code == 429 and response["Retry-After"]
