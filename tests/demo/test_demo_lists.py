"""The demo city's list entries: every state of the lifecycle, decided through the services,
with a black-listed, a red-listed and a clean enterprise for the check-before-act demo."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from qualitycity.lists import selectors
from qualitycity.lists.catalogue import lists
from qualitycity.lists.models import ListEntry, ListEntryEvent, Objection, RepairApplication
from qualitycity.subjects.models import EnterpriseBinding, Subject


@pytest.mark.django_db(transaction=True)
def test_the_demo_leaves_entries_in_every_state(settings, tmp_path):
    settings.HOME = tmp_path / "home"
    settings.HOME.mkdir()
    out = io.StringIO()
    call_command("demo", "--scale", "300", "--no-serve", "--json", "--no-progress", stdout=out)
    summary = json.loads(out.getvalue())["summary"]["lists"]

    states = summary["entries"]
    for state in ("proposed", "noticed", "published", "repaired", "removed", "expired"):
        assert states[state] > 0, state
    assert states == {s: ListEntry.objects.filter(state=s).count() for s in ListEntry.State.values}
    # Publications were decided by officers, back-dated, with their history.
    published = ListEntry.objects.filter(state="published")
    assert published.filter(published_on__lt=timezone.localdate()).exists()
    assert not ListEntryEvent.objects.filter(kind="published", actor__isnull=True).exists()
    assert ListEntryEvent.objects.filter(kind="proposed", actor__isnull=True).exists()  # rules
    assert {"upheld", "rejected", "open"} <= set(Objection.objects.values_list("status", flat=True))
    assert RepairApplication.objects.filter(status="approved").exists()
    assert summary["overdue"] >= 1 and selectors.overdue_items()

    # A black-listed and a red-listed enterprise in force today; a clean one on no list.
    today = timezone.localdate()
    black = Subject.objects.get(code=summary["black_listed"])
    red = Subject.objects.get(code=summary["red_listed"])
    in_force = selectors.entries_in_force([black.pk, red.pk], today)
    assert {lists()[e.list_code].kind for e in in_force[black.pk]} == {"black"}
    assert {lists()[e.list_code].kind for e in in_force[red.pk]} == {"red"}
    assert not ListEntry.objects.filter(subject__code=summary["clean"]).exists()

    # The demo enterprise login has entries to object to and to repair, and an objection.
    subject = EnterpriseBinding.objects.get(user__username="enterprise").subject
    own = ListEntry.objects.filter(subject=subject)
    assert own.filter(state="noticed").exists()
    assert own.filter(state="published", repair_allowed_from__lte=today).exists()
    assert Objection.objects.filter(subject=subject, record__isnull=False, status="open").exists()
