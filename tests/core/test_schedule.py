"""Daily jobs the worker starts by itself (``core.schedule``): once a day, from the set hour."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from qualitycity.core.models import Job, ScheduledRun
from qualitycity.core.schedule import DAILY, run_due

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def test_the_lists_expiry_is_a_daily_job():
    assert "lists_expire" in DAILY


def test_due_jobs_start_once_a_day_from_the_set_hour(settings):
    settings.QUALITYCITY_DAILY_AT = "01:30"
    assert run_due(at(20, 1, 0)) == []  # before the hour: nothing
    assert not ScheduledRun.objects.exists()
    first = run_due(at(20, 1, 30))
    assert {r.name for r in first} == set(DAILY)
    expiry = next(r for r in first if r.name == "lists_expire")
    job = Job.objects.get(pk=expiry.job_id)
    assert job.kind == "lists_expire" and job.params == {"today": "2026-11-20"}
    assert job.status == "succeeded"  # tests run jobs at once
    assert run_due(at(20, 23, 59)) == []  # not twice the same day
    # A worker that was down at the hour catches up when it next checks.
    assert {r.name for r in run_due(at(21, 17, 5))} == set(DAILY)
    assert ScheduledRun.objects.filter(name="lists_expire").count() == 2


def test_a_run_another_worker_made_is_not_repeated(settings):
    settings.QUALITYCITY_DAILY_AT = "01:00"
    ScheduledRun.objects.create(name="lists_expire", day=dt.date(2026, 11, 22))
    started = run_due(at(22, 9))
    assert "lists_expire" not in {r.name for r in started}
    assert not Job.objects.filter(kind="lists_expire").exists()


def test_a_failing_start_does_not_stop_the_others_and_is_retried(settings, monkeypatch):
    settings.QUALITYCITY_DAILY_AT = "01:00"

    def broken(day):
        raise RuntimeError("queue unavailable")

    monkeypatch.setitem(DAILY, "aaa_broken", ("a job that cannot start", broken))
    started = run_due(at(23, 2))
    assert "lists_expire" in {r.name for r in started}
    # The failed start left no run behind, so the next check tries again.
    assert not ScheduledRun.objects.filter(name="aaa_broken").exists()


def test_the_command_lists_the_daily_jobs(settings):
    settings.QUALITYCITY_DAILY_AT = "01:00"
    run_due(at(24, 3))
    out = StringIO()
    call_command("jobs", "--daily", "--json", stdout=out)
    rows = {r["name"]: r for r in json.loads(out.getvalue())}
    assert rows["lists_expire"]["at"] == "01:00"
    assert rows["lists_expire"]["last_day"] == "2026-11-24"
    assert rows["lists_expire"]["last_status"] == "succeeded"
