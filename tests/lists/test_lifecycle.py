"""The entry lifecycle: proposals (rules never publish; idempotent), notice, publication with
dated periods, withdrawal and removal, permissions, and the event history of every step."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from qualitycity.core.context import acting_as
from qualitycity.core.errors import PermissionDenied, ValidationFailed
from qualitycity.core.models import ObjectChange
from qualitycity.lists import selectors, services
from qualitycity.lists.catalogue import add_months, period_rule_on
from qualitycity.lists.models import ListEntry, ListEntryEvent

D = dt.date
pytestmark = pytest.mark.django_db


def test_rules_only_propose_and_are_idempotent(city, add_record):
    today = timezone.localdate()
    add_record(city["a"], "court_enforcement", today - dt.timedelta(days=40), {"status": "listed"})
    add_record(city["b"], "court_enforcement", today - dt.timedelta(days=40), {"status": "closed"})
    add_record(city["c"], "tax_rating", today - dt.timedelta(days=100), {"grade": "A"})
    add_record(city["d"], "tax_rating", today - dt.timedelta(days=100), {"grade": "D"})
    add_record(city["e"], "tax_rating", today - dt.timedelta(days=500), {"grade": "A"})  # too old

    with acting_as(source="job"):
        first = services.entries_propose_from_rules()
    assert first["proposed"] == 3
    entries = {(e.list_code, e.subject_id): e for e in ListEntry.objects.all()}
    assert set(entries) == {
        ("court_dishonest", city["a"].pk),
        ("tax_a", city["c"].pk),
        ("tax_major_violation", city["d"].pk),
    }
    # Never published: every entry waits for the owning department.
    for e in entries.values():
        assert e.state == ListEntry.State.PROPOSED and e.origin == ListEntry.Origin.RULE
        assert e.published_on is None and e.source_record_id and e.reason and e.legal_basis
    assert entries[("court_dishonest", city["a"].pk)].department.code == "court"
    # Each proposal is an event and a change-log entry.
    events = ListEntryEvent.objects.filter(kind="proposed")
    assert events.count() == 3 and {e.source for e in events} == {"job"}
    assert ObjectChange.objects.filter(content_type__model="listentry").count() == 3

    again = services.entries_propose_from_rules()
    assert again["proposed"] == 0
    assert again["lists"]["court_dishonest"]["already_listed"] == 1
    assert ListEntry.objects.count() == 3


def test_a_record_whose_entry_was_withdrawn_proposes_nothing_again(city, add_record, officers):
    today = timezone.localdate()
    record = add_record(city["a"], "court_enforcement", today, {"status": "listed"})
    services.entries_propose_from_rules(list_codes=["court_dishonest"])
    entry = ListEntry.objects.get()
    services.entry_withdraw(entry=entry, actor=officers["court"], reason="已履行")
    out = services.entries_propose_from_rules(list_codes=["court_dishonest"])
    assert out["proposed"] == 0 and out["lists"]["court_dishonest"]["decided_before"] == 1
    # A new record of the subject proposes again.
    newer = add_record(city["a"], "court_enforcement", today, {"status": "listed"})
    assert newer.pk != record.pk
    assert services.entries_propose_from_rules(list_codes=["court_dishonest"])["proposed"] == 1


def test_manual_proposal_needs_the_owning_department(city, officers):
    with pytest.raises(PermissionDenied) as wrong:
        services.entry_propose(
            list_code="court_dishonest", subject=city["a"], reason="x", actor=officers["market"]
        )
    assert wrong.value.code == "forbidden_department" and wrong.value.status == 403
    with pytest.raises(PermissionDenied) as inspector:
        services.entry_propose(
            list_code="court_dishonest", subject=city["a"], reason="x", actor=officers["inspector"]
        )
    assert inspector.value.code == "missing_scope"
    entry = services.entry_propose(
        list_code="court_dishonest", subject=city["a"], reason="拒不履行", actor=officers["court"]
    )
    assert entry.origin == "manual" and entry.state == "proposed"
    # City-wide roles may propose for any list; a second live entry is refused.
    with pytest.raises(services.EntryExists) as twice:
        services.entry_propose(
            list_code="court_dishonest", subject=city["a"], reason="x", actor=officers["quality"]
        )
    assert twice.value.status == 409 and twice.value.details["entry_id"] == entry.pk
    with pytest.raises(ValidationFailed) as no_reason:
        services.entry_propose(
            list_code="tax_a", subject=city["a"], reason="  ", actor=officers["tax"]
        )
    assert no_reason.value.code == "reason_required"


def test_publication_waits_for_the_notice_period(city, officers):
    court = officers["court"]
    entry = services.entry_propose(
        list_code="court_dishonest", subject=city["a"], reason="拒不履行", actor=court
    )
    with pytest.raises(services.IllegalTransition) as early:
        services.entry_publish(entry=entry, actor=court, reason="公示")
    assert early.value.details["state"] == "proposed" and early.value.status == 409
    services.entry_notice(entry=entry, actor=court, reason="告知")
    assert entry.state == "noticed" and entry.notice_ends_on > timezone.localdate()
    notice = entry.events.get(kind="noticed").data["notice"]
    assert notice["objection_deadline"] == entry.notice_ends_on.isoformat()
    with pytest.raises(services.NoticePeriodRunning) as running:
        services.entry_publish(entry=entry, actor=court, reason="公示")
    assert running.value.code == "notice_period_running"
    first = entry.notice_ends_on + dt.timedelta(days=1)
    assert running.value.details["publishable_from"] == first.isoformat()
    assert ListEntry.objects.get(pk=entry.pk).state == "noticed"


def test_notice_period_is_working_days_from_the_dated_rule(city, officers):
    tax = officers["tax"]
    entry = services.entry_propose(
        list_code="tax_a", subject=city["a"], reason="A级", actor=tax, on=D(2026, 9, 25)
    )
    # Friday 2026-09-25 + 5 working days, across the National Day holiday (Oct 1-8 in 2026).
    services.entry_notice(entry=entry, actor=tax, reason="告知", on=D(2026, 9, 25))
    assert period_rule_on(D(2026, 9, 25)).deadline("notice_working_days") == 5
    from qualitycity.records.workdays import calendar

    assert entry.notice_ends_on == calendar().add_working_days(D(2026, 9, 25), 5)
    assert entry.notice_ends_on > D(2026, 10, 2)


@pytest.mark.parametrize(
    ("published_on", "min_months", "effective_from"),
    [(D(2025, 3, 3), 6, "2019-07-09"), (D(2026, 6, 1), 12, "2026-01-01")],
)
def test_publication_dates_follow_the_rule_in_force_on_the_day(
    city, published, published_on, min_months, effective_from
):
    entry = published("court_dishonest", city["a"], on=published_on)
    assert entry.state == "published" and entry.published_on == published_on
    assert entry.repair_allowed_from == add_months(published_on, min_months)
    assert entry.publication_ends_on == add_months(published_on, 36)
    assert entry.period_rule["effective_from"] == effective_from
    assert entry.period_rule["min_months"] == min_months and entry.period_rule["level"] == "serious"
    assert entry.events.get(kind="published").data["period_rule"] == entry.period_rule


def test_red_lists_publish_for_their_valid_months_without_repair(city, published):
    entry = published("tax_a", city["a"], on=D(2026, 2, 28))
    assert entry.publication_ends_on == D(2027, 2, 28)
    assert entry.repair_allowed_from is None and entry.period_rule["valid_months"] == 12


def test_the_wrong_department_cannot_move_an_entry(city, officers, api_key):
    from qualitycity.core.models import ApiClient, hash_key

    entry = services.entry_propose(
        list_code="court_dishonest", subject=city["a"], reason="x", actor=officers["court"]
    )
    for actor in (officers["market"], officers["tax"]):
        with pytest.raises(PermissionDenied) as denied:
            services.entry_notice(entry=entry, actor=actor, reason="告知")
        assert denied.value.code == "forbidden_department"
    market_client = ApiClient.objects.get(key_hash=hash_key(api_key(["lists.decide"], "market")))
    with pytest.raises(PermissionDenied):
        services.entry_withdraw(entry=entry, actor=market_client, reason="x")
    court_client = ApiClient.objects.get(key_hash=hash_key(api_key(["lists.decide"], "court")))
    services.entry_withdraw(entry=entry, actor=court_client, reason="撤回")
    event = entry.events.get(kind="withdrawn")
    assert event.api_client == court_client and event.actor is None


def test_every_transition_is_an_event_with_actor_reason_and_states(city, officers, published):
    entry = published("court_dishonest", city["a"], on=D(2026, 6, 1))
    services.entry_remove(entry=entry, actor=officers["quality"], reason="法院撤销")
    assert entry.state == "removed" and entry.ended_on == timezone.localdate()
    events = list(entry.events.order_by("at", "id"))
    assert [(e.kind, e.from_state, e.to_state) for e in events] == [
        ("proposed", "", "proposed"),
        ("noticed", "proposed", "noticed"),
        ("published", "noticed", "published"),
        ("removed", "published", "removed"),
    ]
    assert [e.actor.username for e in events] == ["officer-court"] * 3 + ["quality"]
    assert all(e.reason for e in events)
    # Back-dated acts carry their day; history stays in order.
    assert timezone.localdate(events[2].at) == D(2026, 6, 1)
    with pytest.raises(services.IllegalTransition) as again:
        services.entry_remove(entry=entry, actor=officers["court"], reason="x")
    assert again.value.code == "illegal_transition" and again.value.details["state"] == "removed"
    with pytest.raises(ValidationFailed):
        services.entry_notice(entry=entry, actor=officers["court"], reason="")


def test_acts_cannot_be_dated_in_the_future(city, officers):
    with pytest.raises(ValidationFailed) as future:
        services.entry_propose(
            list_code="tax_a",
            subject=city["a"],
            reason="x",
            actor=officers["tax"],
            on=timezone.localdate() + dt.timedelta(days=1),
        )
    assert future.value.code == "date_in_future"


def test_entries_in_force_for_the_check(city, published):
    entry = published("court_dishonest", city["a"], on=D(2026, 6, 1))
    assert selectors.entries_in_force([city["a"].pk], D(2026, 6, 1))[city["a"].pk] == [entry]
    assert selectors.entries_in_force([city["a"].pk], D(2026, 5, 31)) == {}
