"""Lists pages: the catalogue and entries for staff, the acts of the owning department (and only
its), refusals shown on the form, objections with evidence (to entries and to records), credit
repair, overdue decisions, proposals from rules as a job, the dashboard panel and the
enterprise user's own page."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from qualitycity.core.models import Job
from qualitycity.lists import services
from qualitycity.lists.models import ListEntry, Objection, RepairApplication
from tests.conftest import PASSWORD

D = dt.date
pytestmark = pytest.mark.django_db


def pdf(name: str = "证明.pdf", body: bytes = b"%PDF-1.4 proof") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


def signed_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def proposed(city, officers) -> ListEntry:
    return services.entry_propose(
        list_code="court_dishonest",
        subject=city["a"],
        reason="拒不履行生效判决",
        actor=officers["court"],
    )


@pytest.fixture
def noticed(proposed, officers) -> ListEntry:
    return services.entry_notice(entry=proposed, actor=officers["court"], reason="书面告知")


def entry_url(entry: ListEntry) -> str:
    return reverse("lists:entry", args=[entry.pk])


def act_url(entry: ListEntry, action: str) -> str:
    return reverse("lists:entry_act", args=[entry.pk, action])


# --- who may look ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/lists/", "/lists/entries/", "/lists/overdue/", "/lists/entries/1/", "/lists/mine/"]
)
def test_anonymous_is_sent_to_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_catalogue_counts_entries_per_state(city, officers, noticed, published):
    published("tax_a", city["b"], on=today() - dt.timedelta(days=10))
    response = signed_in(officers["quality"]).get(reverse("lists:index"))
    assert response.status_code == 200
    rows = {r["code"]: dict(r["states"]) for r in response.context["rows"]}
    assert rows["court_dishonest"]["noticed"] == 1
    assert rows["tax_a"]["published"] == 1
    assert rows["watch"] == dict.fromkeys(ListEntry.State.values, 0)
    text = response.content.decode()
    assert "失信被执行人名单" in text and "法释〔2017〕7号" in text
    assert f"{reverse('lists:entries')}?list=court_dishonest&amp;state=noticed" in text
    # The city-wide role may run the rules and the expiry job; an inspector may only look.
    assert reverse("lists:rules_run") in text and reverse("lists:expire_run") in text
    inspector = signed_in(officers["inspector"]).get(reverse("lists:index")).content.decode()
    assert reverse("lists:rules_run") not in inspector and reverse("lists:propose") not in inspector


def test_entries_are_filtered_and_paged(city, officers, noticed, published, settings):
    published("tax_a", city["b"], on=today() - dt.timedelta(days=10))
    client = signed_in(officers["market"])
    page = client.get(reverse("lists:entries"), {"list": "tax_a"})
    assert [r["entry"].list_code for r in page.context["rows"]] == ["tax_a"]
    page = client.get(reverse("lists:entries"), {"state": "noticed"})
    assert [r["entry"].pk for r in page.context["rows"]] == [noticed.pk]
    page = client.get(reverse("lists:entries"), {"department": "tax"})
    assert [r["entry"].list_code for r in page.context["rows"]] == ["tax_a"]
    page = client.get(reverse("lists:entries"), {"subject": city["a"].code})
    assert [r["entry"].pk for r in page.context["rows"]] == [noticed.pk]
    bad = client.get(reverse("lists:entries"), {"subject": city["a"].code[:-1] + "X"})
    assert bad.context["form"].errors["subject"] and not bad.context["rows"]
    # Pagination keeps the filters.
    from qualitycity.lists import views

    views.PAGE_SIZE, size = 1, views.PAGE_SIZE
    try:
        page = client.get(reverse("lists:entries"), {"department": ""})
        assert page.context["page"].paginator.num_pages == 2
        assert "department=&amp;page=2" in page.content.decode()
    finally:
        views.PAGE_SIZE = size


# --- acts of the owning department ------------------------------------------------------------


def test_another_department_sees_no_action_forms_and_is_refused(city, officers, proposed):
    market = signed_in(officers["market"])
    page = market.get(entry_url(proposed))
    assert page.status_code == 200
    assert page.context["actions"] == [] and 'id="act-notice"' not in page.content.decode()
    response = market.post(act_url(proposed, "notice"), {"notice-reason": "越权告知"})
    assert response.status_code == 403
    proposed.refresh_from_db()
    assert proposed.state == "proposed"

    court = signed_in(officers["court"])
    page = court.get(entry_url(proposed))
    assert [a["action"] for a in page.context["actions"]] == ["notice", "withdraw"]
    assert 'id="act-notice"' in page.content.decode()
    response = court.post(act_url(proposed, "notice"), {"notice-reason": "书面告知当事人"})
    assert response.status_code == 302 and response["Location"] == entry_url(proposed)
    proposed.refresh_from_db()
    assert proposed.state == "noticed" and proposed.notice_ends_on > today()
    page = court.get(entry_url(proposed)).content.decode()
    assert "书面告知当事人" in page and officers["court"].username in page


def test_an_act_needs_a_reason(city, officers, proposed):
    response = signed_in(officers["court"]).post(act_url(proposed, "withdraw"), {})
    assert response.status_code == 400
    [form] = [a["form"] for a in response.context["actions"] if a["action"] == "withdraw"]
    assert form.errors["reason"]
    proposed.refresh_from_db()
    assert proposed.state == "proposed"


def test_publishing_before_the_notice_ends_shows_the_error(city, officers, noticed):
    response = signed_in(officers["court"]).post(
        act_url(noticed, "publish"), {"publish-reason": "公示"}
    )
    assert response.status_code == 409
    [form] = [a["form"] for a in response.context["actions"] if a["action"] == "publish"]
    [error] = form.non_field_errors()
    first = noticed.notice_ends_on + dt.timedelta(days=1)
    assert noticed.notice_ends_on.isoformat() in error and first.isoformat() in error
    assert error in response.content.decode()
    noticed.refresh_from_db()
    assert noticed.state == "noticed"


def test_an_illegal_transition_is_a_form_error_not_a_crash(city, officers, proposed):
    response = signed_in(officers["court"]).post(
        act_url(proposed, "remove"), {"remove-reason": "撤销"}
    )
    assert response.status_code == 409
    assert "error-box" in response.content.decode()


def test_publication_by_the_owning_department(city, officers):
    day = today() - dt.timedelta(days=30)
    entry = services.entry_propose(
        list_code="court_dishonest",
        subject=city["a"],
        reason="拒不履行",
        actor=officers["court"],
        on=day,
    )
    services.entry_notice(entry=entry, actor=officers["court"], reason="告知", on=day)
    client = signed_in(officers["court"])
    assert (
        client.post(act_url(entry, "publish"), {"publish-reason": "异议期满，公示"}).status_code
        == 302
    )
    page = client.get(entry_url(entry))
    entry.refresh_from_db()
    assert entry.state == "published" and entry.published_on == today()
    text = page.content.decode()
    # The dates and the period rule applied are on the page, and the typed history.
    assert entry.publication_ends_on.isoformat() in text
    assert entry.repair_allowed_from.isoformat() in text
    assert entry.period_rule["reference"] in text
    kinds = [e["event"].kind for e in page.context["events"]]
    assert kinds == ["proposed", "noticed", "published"]
    assert [(e["from"], e["to"]) for e in page.context["events"]][2] == ("已告知", "已公示")


def test_manual_proposal(city, officers):
    client = signed_in(officers["court"])
    page = client.get(reverse("lists:propose"))
    assert [c for c, _ in page.context["form"].fields["list_code"].choices] == ["court_dishonest"]
    data = {"list_code": "court_dishonest", "subject": city["b"].code, "reason": "拒不履行"}
    response = client.post(reverse("lists:propose"), data)
    entry = ListEntry.objects.get(subject=city["b"])
    assert response["Location"] == entry_url(entry)
    assert entry.state == "proposed" and entry.origin == "manual"
    again = client.post(reverse("lists:propose"), data)
    assert again.status_code == 409 and again.context["form"].non_field_errors()
    bad = client.post(reverse("lists:propose"), {**data, "subject": "91370202MA3C000000"})
    assert bad.status_code == 400 and bad.context["form"].errors["subject"]
    # Another department's list is not a choice; an inspector may not propose at all.
    market = signed_in(officers["market"]).post(reverse("lists:propose"), data)
    assert market.status_code == 400 and market.context["form"].errors["list_code"]
    assert signed_in(officers["inspector"]).get(reverse("lists:propose")).status_code == 403


def test_proposals_from_rules_run_as_a_job(city, officers, add_record):
    add_record(
        city["c"], "court_enforcement", today() - dt.timedelta(days=20), {"status": "listed"}
    )
    client = signed_in(officers["court"])
    response = client.post(reverse("lists:rules_run"))
    job = Job.objects.get(kind="lists_propose")
    assert response["Location"] == reverse("lists:job", args=[job.pk])
    page = client.get(response["Location"])
    assert page.status_code == 200
    [row] = [r for r in page.context["rows"] if r["code"] == "court_dishonest"]
    assert row["counts"]["proposed"] == 1
    progress = client.get(reverse("lists:job_progress", args=[job.pk]))
    assert progress["HX-Trigger"] == "jobFinished"
    assert ListEntry.objects.get(subject=city["c"]).state == "proposed"
    # The inspector may not run rules; another kind of job is not a lists job.
    assert signed_in(officers["inspector"]).post(reverse("lists:rules_run")).status_code == 403
    assert client.get(reverse("lists:job", args=[uuid.uuid4()])).status_code == 404


# --- objections and credit repair --------------------------------------------------------------


def test_the_enterprise_objects_to_an_entry_and_the_department_upholds_it(
    city, officers, published, enterprise_user
):
    entry = published("court_dishonest", city["a"], on=today() - dt.timedelta(days=3))
    user = enterprise_user(city["a"])
    client = signed_in(user)
    page = client.get(entry_url(entry))
    assert page.context["object_form"] is not None and page.context["actions"] == []
    response = client.post(
        reverse("lists:entry_object", args=[entry.pk]),
        {"object-text": "判决已履行完毕", "object-evidence": [pdf(), pdf("回执.png", b"png")]},
    )
    assert response.status_code == 302
    objection = Objection.objects.get(entry=entry)
    assert [f["name"] for f in objection.evidence] == ["证明.pdf", "回执.png"]
    page = client.get(entry_url(entry))
    assert page.context["under_objection"] == objection
    assert "under-objection" in page.content.decode()
    [evidence] = page.context["objections"][0]["evidence"][:1]
    download = client.get(evidence["url"])
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 proof"
    # Another enterprise cannot see the objection's evidence; the entry's department decides
    # (to another department the objection does not exist).
    other = signed_in(enterprise_user(city["b"]))
    assert other.get(evidence["url"]).status_code == 404
    market = signed_in(officers["market"])
    decide = reverse("lists:objection_decide", args=[objection.pk])
    key = f"objection-{objection.pk}"
    data = {f"{key}-decision": "uphold", f"{key}-reason": "已履行"}
    assert market.post(decide, data).status_code == 404
    assert signed_in(officers["inspector"]).post(decide, data).status_code == 404
    court = signed_in(officers["court"])
    assert court.post(decide, {f"{key}-decision": "uphold"}).status_code == 400
    assert court.post(decide, data).status_code == 302
    entry.refresh_from_db()
    objection.refresh_from_db()
    assert objection.status == "upheld" and entry.state == "removed"


def test_the_enterprise_withdraws_its_objection(city, officers, noticed, enterprise_user):
    client = signed_in(enterprise_user(city["a"]))
    client.post(reverse("lists:entry_object", args=[noticed.pk]), {"object-text": "有误"})
    objection = Objection.objects.get(entry=noticed)
    response = client.post(
        reverse("lists:objection_withdraw", args=[objection.pk]),
        {f"withdraw-{objection.pk}-reason": "已与法院沟通"},
    )
    assert response.status_code == 302
    objection.refresh_from_db()
    assert objection.status == "withdrawn"


def test_an_enterprise_cannot_object_for_another_subject(city, noticed, enterprise_user):
    client = signed_in(enterprise_user(city["b"]))
    page = client.get(entry_url(noticed))
    assert page.status_code == 404  # not published: another subject's entry is not visible
    response = client.post(reverse("lists:entry_object", args=[noticed.pk]), {"object-text": "x"})
    assert response.status_code == 404
    assert not Objection.objects.exists()


def test_the_enterprise_objects_to_a_record_which_shows_under_objection(
    city, officers, add_record, enterprise_user
):
    record = add_record(
        city["a"], "admin_penalty", today() - dt.timedelta(days=40), {"penalty_category": "fine"}
    )
    user = enterprise_user(city["a"])
    client = signed_in(user)
    file_url = reverse("records:credit_file", args=[city["a"].code])
    page = client.get(file_url).content.decode()
    object_url = reverse("lists:record_objection", args=[city["a"].code])
    assert object_url in page
    form = client.get(object_url)
    assert [c for c, _ in form.context["form"].fields["record"].choices] == [record.pk]
    response = client.post(
        object_url, {"record": record.pk, "text": "处罚决定已被撤销", "evidence": [pdf()]}
    )
    objection = Objection.objects.get(record=record)
    assert response["Location"] == reverse("lists:objection", args=[objection.pk])
    assert objection.department.code == "market" and len(objection.evidence) == 1
    # The credit file marks the record, for the subject and for staff.
    for viewer in (client, signed_in(officers["market"])):
        response = viewer.get(file_url)
        [section] = [s for s in response.context["sections"] if s["key"] == "lists.entries"]
        assert [u["record"].id for u in section["data"]["records_under_objection"]] == [record.pk]
        assert f"#record-{record.pk}" in response.content.decode()
    # Not twice; not for another subject.
    assert client.get(object_url).context["form"] is None
    other = signed_in(enterprise_user(city["b"]))
    assert other.get(object_url).status_code == 403
    # The submitting department decides it on the objection's page.
    market = signed_in(officers["market"])
    page = market.get(reverse("lists:objection", args=[objection.pk]))
    assert page.context["item"]["decide_form"] is not None
    key = f"objection-{objection.pk}"
    market.post(
        reverse("lists:objection_decide", args=[objection.pk]),
        {f"{key}-decision": "reject", f"{key}-reason": "处罚有效"},
    )
    objection.refresh_from_db()
    assert objection.status == "rejected"


def test_credit_repair_too_early_then_applied_and_approved(
    city, officers, published, enterprise_user
):
    recent = published("court_dishonest", city["a"], on=today() - dt.timedelta(days=5))
    client = signed_in(enterprise_user(city["a"]))
    page = client.get(entry_url(recent))
    assert page.context["repair_form"] is None
    assert page.context["repair_from"] == recent.repair_allowed_from
    early = client.post(
        reverse("lists:entry_repair", args=[recent.pk]),
        {"repair-commitment": "守法经营", "repair-evidence": [pdf()]},
    )
    assert early.status_code == 409
    assert recent.repair_allowed_from.isoformat() in early.content.decode()

    # Published under the 2019 rule (serious: repair after 6 months).
    old = published("tax_major_violation", city["a"], on=D(2025, 3, 3), actor=officers["tax"])
    page = client.get(entry_url(old))
    assert page.context["repair_form"] is not None
    missing = client.post(
        reverse("lists:entry_repair", args=[old.pk]), {"repair-commitment": "守法经营"}
    )
    assert missing.status_code == 400 and missing.context["repair_form"].errors["evidence"]
    client.post(
        reverse("lists:entry_repair", args=[old.pk]),
        {"repair-commitment": "已补缴税款及滞纳金", "repair-evidence": [pdf("完税证明.pdf")]},
    )
    application = RepairApplication.objects.get(entry=old)
    tax = signed_in(officers["tax"])
    key = f"repair-{application.pk}"
    response = tax.post(
        reverse("lists:repair_decide", args=[application.pk]),
        {f"{key}-decision": "approve", f"{key}-reason": "已履行"},
    )
    assert response["Location"] == entry_url(old)
    old.refresh_from_db()
    assert old.state == "repaired" and old.ended_on == today()
    assert "repair_approved" in [e.kind for e in old.events.all()]


# --- overdue, dashboard, enterprise page ---------------------------------------------------


def test_the_overdue_page_lists_an_overdue_objection(city, officers, noticed, enterprise_user):
    objection = services.objection_file(
        actor=enterprise_user(city["a"]), entry=noticed, text="有误"
    )
    Objection.objects.filter(pk=objection.pk).update(due_on=today() - dt.timedelta(days=4))
    court = signed_in(officers["court"]).get(reverse("lists:overdue"))
    assert [(i["kind"], i["id"], i["days"]) for i in court.context["items"]] == [
        ("objection", objection.pk, 4)
    ]
    assert reverse("lists:objection", args=[objection.pk]) in court.content.decode()
    quality = signed_in(officers["quality"]).get(reverse("lists:overdue"))
    assert len(quality.context["items"]) == 1
    filtered = signed_in(officers["quality"]).get(reverse("lists:overdue"), {"department": "tax"})
    assert filtered.context["items"] == []
    assert signed_in(officers["market"]).get(reverse("lists:overdue")).context["items"] == []
    assert signed_in(officers["inspector"]).get(reverse("lists:overdue")).status_code == 403
    # The dashboard panel counts it for the quality office and the court.
    for user in (officers["quality"], officers["court"]):
        panel = signed_in(user).get(reverse("core:dashboard"))
        [p] = [p for p in panel.context["panels"] if p["key"] == "lists.decisions"]
        assert p["data"]["overdue"] == 1 and not p["failed"]


def test_the_enterprise_user_sees_its_own_entries(
    city, officers, noticed, published, enterprise_user
):
    published("tax_a", city["b"], on=today() - dt.timedelta(days=10))
    client = signed_in(enterprise_user(city["a"]))
    assert client.get(reverse("lists:index"))["Location"] == reverse("lists:mine")
    page = client.get(reverse("lists:mine"))
    assert [r["entry"].pk for r in page.context["entries"]] == [noticed.pk]
    assert noticed.notice_ends_on.isoformat() in page.content.decode()
    # Staff are sent to the catalogue.
    assert signed_in(officers["quality"]).get(reverse("lists:mine"))["Location"] == reverse(
        "lists:index"
    )


def test_the_expiry_job_ends_publications_on_time(city, officers, published):
    entry = published("tax_a", city["b"], on=today() - dt.timedelta(days=400))
    client = signed_in(officers["quality"])
    response = client.post(reverse("lists:expire_run"))
    job = Job.objects.get(kind="lists_expire")
    assert response["Location"] == reverse("lists:job", args=[job.pk])
    page = client.get(response["Location"])
    assert [(r["code"], r["counts"]["expired"]) for r in page.context["rows"]] == [("tax_a", 1)]
    entry.refresh_from_db()
    assert entry.state == "expired" and entry.ended_on == entry.publication_ends_on
    # Only city-wide roles run it.
    assert signed_in(officers["tax"]).post(reverse("lists:expire_run")).status_code == 403
