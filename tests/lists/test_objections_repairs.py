"""Objections (to entries and to records) and credit repair: who may file, evidence kept with
its SHA-256, deadlines, decisions by the owning department and their effect on the entry."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from qualitycity.core.errors import PermissionDenied, ValidationFailed
from qualitycity.core.models import ObjectChange
from qualitycity.lists import selectors, services
from qualitycity.lists.catalogue import period_rule_on
from qualitycity.lists.models import ListEntry, Objection, RepairApplication
from qualitycity.records.workdays import calendar

D = dt.date
pytestmark = pytest.mark.django_db


def pdf(name: str = "证明.pdf", body: bytes = b"%PDF-1.4 proof") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/pdf")


@pytest.fixture
def noticed(city, officers):
    entry = services.entry_propose(
        list_code="court_dishonest", subject=city["a"], reason="拒不履行", actor=officers["court"]
    )
    return services.entry_notice(entry=entry, actor=officers["court"], reason="告知")


def test_the_subject_objects_with_evidence_kept_by_hash(city, noticed, enterprise_user):
    user = enterprise_user(city["a"])
    body = b"%PDF-1.4 payment receipt"
    objection = services.objection_file(
        actor=user, entry=noticed, text="已全部履行", evidence_files=[pdf(body=body)]
    )
    assert objection.status == "open" and objection.department.code == "court"
    assert objection.filed_by == user and objection.subject == city["a"]
    today = timezone.localdate()
    days = period_rule_on(today).deadline("objection_decision_working_days")
    assert objection.due_on == calendar().add_working_days(today, days)
    [kept] = objection.evidence
    assert kept["sha256"] == hashlib.sha256(body).hexdigest() and kept["size"] == len(body)
    stored = Path(settings.FILES_ROOT) / kept["path"]
    assert stored.read_bytes() == body and kept["path"].startswith("evidence/")
    assert kept["name"] == "证明.pdf"
    path, name = selectors.evidence_file(obj=objection, sha256=kept["sha256"])
    assert path == stored and name == "证明.pdf"
    # The entry is under objection, its history says so, and the change log has the objection.
    assert selectors.entry_under_objection([noticed.pk]) == {noticed.pk: objection.due_on}
    assert noticed.events.filter(kind="objection_filed", actor=user).exists()
    assert ObjectChange.objects.filter(content_type__model="objection").exists()
    # One objection at a time.
    with pytest.raises(services.Conflict) as twice:
        services.objection_file(actor=user, entry=noticed, text="再次异议")
    assert twice.value.code == "objection_open"


def test_only_the_subject_or_staff_for_it_may_object(city, noticed, enterprise_user, officers):
    other = enterprise_user(city["b"])
    with pytest.raises(PermissionDenied) as denied:
        services.objection_file(actor=other, entry=noticed, text="x")
    assert denied.value.code == "not_bound_to_subject"
    with pytest.raises(PermissionDenied) as market:
        services.objection_file(actor=officers["market"], entry=noticed, text="x")
    assert market.value.code == "forbidden_department"
    # Staff of the deciding department may file on the subject's behalf (a paper objection).
    objection = services.objection_file(actor=officers["court"], entry=noticed, text="书面异议")
    assert objection.filed_by == officers["court"]


def test_evidence_is_checked(city, noticed, enterprise_user):
    user = enterprise_user(city["a"])
    bad = SimpleUploadedFile("run.exe", b"MZ")
    with pytest.raises(ValidationFailed) as kind:
        services.objection_file(actor=user, entry=noticed, text="x", evidence_files=[bad])
    assert kind.value.code == "evidence_type_not_allowed"
    with pytest.raises(ValidationFailed) as empty:
        services.objection_file(actor=user, entry=noticed, text="x", evidence_files=[pdf(body=b"")])
    assert empty.value.code == "evidence_empty"
    assert not Objection.objects.exists()


def test_an_open_objection_blocks_publication(city, officers, enterprise_user):
    court = officers["court"]
    start = timezone.localdate() - dt.timedelta(days=30)
    entry = services.entry_propose(
        list_code="court_dishonest", subject=city["a"], reason="r", actor=court, on=start
    )
    services.entry_notice(entry=entry, actor=court, reason="告知", on=start)
    services.objection_file(actor=enterprise_user(city["a"]), entry=entry, text="异议")
    with pytest.raises(services.Conflict) as blocked:
        services.entry_publish(entry=entry, actor=court, reason="公示")
    assert blocked.value.code == "objection_open"


def test_an_upheld_objection_removes_a_published_entry(city, published, enterprise_user, officers):
    entry = published("court_dishonest", city["a"], on=D(2026, 6, 1))
    user = enterprise_user(city["a"])
    objection = services.objection_file(actor=user, entry=entry, text="执行已终结")
    with pytest.raises(PermissionDenied):
        services.objection_decide(
            actor=officers["market"], objection=objection, upheld=True, reason="x"
        )
    with pytest.raises(PermissionDenied):  # the subject cannot decide its own objection
        services.objection_decide(actor=user, objection=objection, upheld=True, reason="x")
    services.objection_decide(
        actor=officers["court"], objection=objection, upheld=True, reason="执行已终结，核实无误"
    )
    entry.refresh_from_db()
    assert objection.status == "upheld" and objection.decided_by == officers["court"]
    assert entry.state == "removed" and entry.ended_on == timezone.localdate()
    kinds = list(entry.events.order_by("at", "id").values_list("kind", "from_state", "to_state"))
    assert kinds[-2:] == [
        ("objection_filed", "published", "published"),
        ("objection_upheld", "published", "removed"),
    ]
    assert selectors.entry_under_objection([entry.pk]) == {}
    assert selectors.public_entries(list_code="court_dishonest")["total"] == 0
    with pytest.raises(services.IllegalTransition):
        services.objection_decide(
            actor=officers["court"], objection=objection, upheld=False, reason="x"
        )


def test_a_rejected_objection_keeps_the_entry_and_the_subject_may_withdraw(
    city, published, enterprise_user, officers
):
    entry = published("court_dishonest", city["a"], on=D(2026, 6, 1))
    user = enterprise_user(city["a"])
    first = services.objection_file(actor=user, entry=entry, text="异议一")
    services.objection_decide(
        actor=officers["court"], objection=first, upheld=False, reason="不成立"
    )
    assert ListEntry.objects.get(pk=entry.pk).state == "published"
    second = services.objection_file(actor=user, entry=entry, text="异议二")
    services.objection_withdraw(actor=user, objection=second, reason="撤回")
    assert second.status == "withdrawn"
    assert list(
        entry.events.filter(kind__startswith="objection").values_list("kind", flat=True)
    ) == [
        "objection_filed",
        "objection_rejected",
        "objection_filed",
        "objection_withdrawn",
    ]


def test_an_objection_to_a_record(city, add_record, enterprise_user, officers):
    record = add_record(city["a"], "admin_penalty", D(2026, 5, 5), {"penalty_category": "fine"})
    user = enterprise_user(city["a"])
    objection = services.objection_file(actor=user, record=record, text="处罚已撤销")
    assert objection.department.code == "market" and objection.entry is None
    assert selectors.record_objection_open([record.pk, 999]) == {record.pk: objection.due_on}
    with pytest.raises(PermissionDenied):
        services.objection_decide(
            actor=officers["court"], objection=objection, upheld=True, reason="x"
        )
    services.objection_decide(
        actor=officers["market"], objection=objection, upheld=True, reason="核实"
    )
    assert selectors.record_objection_open([record.pk]) == {}
    with pytest.raises(ValidationFailed) as neither:
        services.objection_file(actor=user, text="x")
    assert neither.value.code == "objection_target"


def test_repair_before_the_minimum_period_is_refused(city, published, enterprise_user):
    entry = published("court_dishonest", city["a"], on=D(2026, 6, 1))  # 2026 rule: 12 months
    with pytest.raises(services.RepairTooEarly) as early:
        services.repair_apply(
            actor=enterprise_user(city["a"]), entry=entry, commitment="承诺", evidence_files=[pdf()]
        )
    assert early.value.code == "repair_too_early" and early.value.status == 409
    assert early.value.details == {"repair_allowed_from": "2027-06-01"}


def test_repair_approved_ends_publication(city, published, enterprise_user, officers):
    entry = published("court_dishonest", city["a"], on=D(2025, 3, 3))  # 2019 rule: 6 months
    user = enterprise_user(city["a"])
    with pytest.raises(ValidationFailed) as no_proof:
        services.repair_apply(actor=user, entry=entry, commitment="承诺", evidence_files=[])
    assert no_proof.value.code == "evidence_required"
    application = services.repair_apply(
        actor=user, entry=entry, commitment="本企业承诺守法经营", evidence_files=[pdf()]
    )
    today = timezone.localdate()
    days = period_rule_on(today).deadline("repair_decision_working_days")
    assert application.due_on == calendar().add_working_days(today, days)
    with pytest.raises(services.Conflict) as twice:
        services.repair_apply(actor=user, entry=entry, commitment="x", evidence_files=[pdf()])
    assert twice.value.code == "repair_open"
    with pytest.raises(PermissionDenied):
        services.repair_decide(
            actor=officers["tax"], application=application, approved=True, reason="x"
        )
    services.repair_decide(
        actor=officers["court"], application=application, approved=True, reason="已履行义务"
    )
    entry.refresh_from_db()
    assert application.status == "approved"
    assert entry.state == "repaired" and entry.ended_on == today
    assert list(entry.events.values_list("kind", flat=True))[-2:] == [
        "repair_applied",
        "repair_approved",
    ]
    # No longer in force, still in the staff history.
    assert selectors.entries_in_force([city["a"].pk], today) == {}
    assert entry in selectors.entry_list(actor=officers["inspector"])


def test_repair_rejected_keeps_the_entry_published(city, published, enterprise_user, officers):
    entry = published("court_dishonest", city["a"], on=D(2025, 3, 3))
    application = services.repair_apply(
        actor=enterprise_user(city["a"]), entry=entry, commitment="承诺", evidence_files=[pdf()]
    )
    services.repair_decide(
        actor=officers["court"], application=application, approved=False, reason="未履行"
    )
    assert ListEntry.objects.get(pk=entry.pk).state == "published"
    assert RepairApplication.objects.get().status == "rejected"


def test_red_lists_have_no_repair(city, published, enterprise_user):
    entry = published("tax_a", city["a"], on=D(2026, 6, 1))
    with pytest.raises(services.Conflict) as red:
        services.repair_apply(
            actor=enterprise_user(city["a"]), entry=entry, commitment="x", evidence_files=[pdf()]
        )
    assert red.value.code == "repair_not_applicable"
