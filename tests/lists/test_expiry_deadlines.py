"""Expiry at the end of the publication period (a job and a command), and missed decision
deadlines flagged to the department and the quality office."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from qualitycity.core.jobs import job_create, job_run
from qualitycity.lists import selectors, services
from qualitycity.lists.catalogue import add_months
from qualitycity.lists.models import ListEntry, Objection

D = dt.date
pytestmark = pytest.mark.django_db


def test_expiry_ends_publication_on_time_and_keeps_the_history(city, published, officers):
    today = timezone.localdate()
    red = published("tax_a", city["a"], on=add_months(today, -12))  # ends today
    black = published("court_dishonest", city["b"], on=D(2026, 6, 1))  # ends 2029
    # The day before, nothing expires; the public sees both.
    assert services.entries_expire(today=today - dt.timedelta(days=1))["expired"] == 0
    assert (
        selectors.public_entries(list_code="tax_a", on=today - dt.timedelta(days=1))["total"] == 1
    )
    # On the day, the public no longer sees it even before the job has run.
    assert selectors.public_entries(list_code="tax_a")["total"] == 0

    job = job_run(job_create(kind="lists_expire", title="expire", params={}))
    assert job.status == "succeeded", job.error
    assert job.outcome["expired"] == 1 and job.outcome["lists"] == {"tax_a": 1}
    red.refresh_from_db()
    black.refresh_from_db()
    assert red.state == "expired" and red.ended_on == red.publication_ends_on == today
    assert black.state == "published"
    event = red.events.get(kind="expired")
    assert (event.from_state, event.to_state) == ("published", "expired") and event.reason
    # Staff still see the entry; the public and the check do not.
    assert red in selectors.entry_list(actor=officers["inspector"], state="expired")
    assert selectors.entries_in_force([city["a"].pk], today) == {}
    assert selectors.entries_in_force([city["a"].pk], today - dt.timedelta(days=1))
    assert selectors.public_entries(list_code="court_dishonest")["total"] == 1
    # Running again changes nothing.
    assert services.entries_expire()["expired"] == 0


@pytest.fixture
def open_requests(city, published, enterprise_user, officers):
    entry = published("court_dishonest", city["a"], on=D(2025, 3, 3))
    user = enterprise_user(city["a"])
    objection = services.objection_file(actor=user, entry=entry, text="异议")
    proof = SimpleUploadedFile("proof.pdf", b"%PDF")
    repair = services.repair_apply(
        actor=user, entry=entry, commitment="承诺", evidence_files=[proof]
    )
    return entry, objection, repair


def test_missed_deadlines_are_flagged_once(open_requests, officers):
    entry, objection, repair = open_requests
    first_due = min(objection.due_on, repair.due_on)
    assert services.deadlines_flag(today=first_due) == []  # due that day: not yet late
    late = max(objection.due_on, repair.due_on) + dt.timedelta(days=1)
    flagged = services.deadlines_flag(today=late)
    assert {(f["kind"], f["id"]) for f in flagged} == {
        ("objection", objection.pk),
        ("repair", repair.pk),
    }
    objection.refresh_from_db()
    assert objection.overdue_flagged_at is not None
    missed = entry.events.filter(kind="deadline_missed")
    assert missed.count() == 2 and {e.data.get("objection_id") for e in missed} >= {objection.pk}
    assert services.deadlines_flag(today=late) == []

    # The court's officers and the quality office see them; another department does not.
    court = selectors.overdue_items(actor=officers["court"], today=late)
    assert len(court) == 2 and {i["department"] for i in court} == {"court"}
    assert len(selectors.overdue_items(actor=officers["quality"], today=late)) == 2
    assert selectors.overdue_items(actor=officers["market"], today=late) == []
    assert selectors.overdue_counts(today=late) == {"court": 2}
    # A decision takes it off the list.
    services.objection_decide(
        actor=officers["court"], objection=objection, upheld=False, reason="x"
    )
    assert [i["kind"] for i in selectors.overdue_items(today=late)] == ["repair"]


def test_the_expire_job_also_flags_deadlines(open_requests):
    _entry, objection, _repair = open_requests
    late = objection.due_on + dt.timedelta(days=30)
    job = job_run(
        job_create(kind="lists_expire", title="expire", params={"today": late.isoformat()})
    )
    assert job.status == "succeeded", job.error
    assert job.outcome["overdue_flagged"] == 2
    assert Objection.objects.get().overdue_flagged_at is not None


def test_rule_proposals_run_as_a_job(city, add_record):
    add_record(city["a"], "court_enforcement", timezone.localdate(), {"status": "listed"})
    job = job_run(
        job_create(
            kind="lists_propose", title="propose", params={"list_codes": ["court_dishonest"]}
        )
    )
    assert job.status == "succeeded", job.error
    assert job.outcome["proposed"] == 1 and job.done == 1
    assert ListEntry.objects.get().state == "proposed"
