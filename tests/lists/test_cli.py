"""``qualitycity lists``: catalogue, propose, expire, overdue and entries, as text and JSON."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from qualitycity.lists.catalogue import add_months
from qualitycity.lists.models import ListEntry

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("lists", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_catalogue(db):
    text = run()
    assert "court_dishonest" in text and "失信被执行人名单" in text
    rows = json.loads(run("--json"))
    assert {r["code"] for r in rows} >= {"court_dishonest", "tax_a", "watch"}


def test_propose_then_entries(city, add_record):
    add_record(city["a"], "court_enforcement", timezone.localdate(), {"status": "listed"})
    add_record(city["person"], "court_enforcement", timezone.localdate(), {"status": "listed"})
    out = json.loads(run("propose", "--list", "court_dishonest", "--json", "--no-progress"))
    assert out["proposed"] == 2 and out["lists"]["court_dishonest"]["matched"] == 2
    text = run("propose", "--no-progress")
    assert "0 entries proposed" in text
    entries = json.loads(run("entries", "--state", "proposed", "--json"))
    assert entries["total"] == 2
    names = {e["subject"]["name"] for e in entries["items"]}
    assert "张**" in names  # natural persons masked
    assert "2 of 2 entries" in run("entries", "--list", "court_dishonest")
    with pytest.raises(CommandError, match="unknown_list"):
        run("propose", "--list", "nope", "--no-progress")


def test_expire_and_overdue(city, published):
    today = timezone.localdate()
    published("tax_a", city["a"], on=add_months(today, -12))
    out = json.loads(run("expire", "--json", "--no-progress"))
    assert out["expired"] == 1 and out["overdue_flagged"] == 0
    assert ListEntry.objects.get().state == "expired"
    assert "No decision is overdue." in run("overdue")
    assert json.loads(run("overdue", "--json")) == []
    later = (today + dt.timedelta(days=1)).isoformat()
    with pytest.raises(CommandError, match="date_in_future"):
        run("propose", "--on", later, "--no-progress")
