"""``qualitycity demo`` and ``qualitycity generate`` end to end, at a small scale."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.utils import timezone

from qualitycity.core.models import Role, User
from qualitycity.records import selectors
from qualitycity.records.models import QuarantinedRow, Record, SourceFile
from qualitycity.subjects.models import EnterpriseBinding, Subject

SCALE = "300"


def _run(*args: str) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", "--no-progress", stdout=out)
    return json.loads(out.getvalue())


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def home(settings, tmp_path) -> Path:
    settings.HOME = tmp_path / "home"
    settings.HOME.mkdir()
    return settings.HOME


@pytest.mark.django_db(transaction=True)
def test_demo_builds_ingests_and_reuses(home, tmp_path):
    result = _run("demo", "--scale", SCALE, "--no-serve")
    assert result["reused"] is False
    summary = result["summary"]
    assert summary["refused"] == 0
    assert summary["accepted"] > 3000
    assert summary["rejected"] > 0

    manifest = json.loads((home / "demo-files" / "manifest.json").read_text(encoding="utf-8"))
    assert summary["rows"] == manifest["rows"]

    # Every file gives exactly what the manifest predicts, reason by reason; the history is
    # backfill, live files were received when the manifest says.
    # (The supervision step submits its own records, one small file each: not the manifest's.)
    files = {
        (sf.department.code, sf.dataset, sf.sha256): sf
        for sf in SourceFile.objects.select_related("department").filter(
            original_name__contains="__"
        )
    }
    own = SourceFile.objects.exclude(original_name__contains="__")
    assert own.exists() and not own.exclude(status=SourceFile.Status.PROCESSED).exists()
    assert len(files) == len(manifest["files"])
    tz = timezone.get_current_timezone()
    for f in manifest["files"]:
        sf = files[(f["department"], f["dataset"], f["sha256"])]
        expected = f["expected"]
        assert sf.original_name == f["name"]
        assert sf.backfill is f["backfill"], f["file"]
        if f["received_at"]:
            local = timezone.localtime(sf.received_at, tz).replace(tzinfo=None)
            assert local == dt.datetime.fromisoformat(f["received_at"]), f["file"]
        assert sf.status == SourceFile.Status.PROCESSED, f["file"]
        assert sf.rows == f["rows"], f["file"]
        assert (sf.accepted, sf.rejected, sf.duplicates) == (
            expected["accepted"],
            expected["rejected"],
            expected["duplicates"],
        ), f["file"]
        assert sf.reasons == expected["reasons"], f["file"]

    # The quarantine shows real rejects with the expected reasons; late registrants resolved.
    open_rows = QuarantinedRow.objects.filter(status=QuarantinedRow.Status.OPEN)
    assert open_rows.count() == sum(f["expected"]["open_after_recheck"] for f in manifest["files"])
    reasons = Counter(open_rows.values_list("primary_reason", flat=True))
    for code in (
        "bad_check",
        "bad_characters",
        "missing_required",
        "name_mismatch",
        "unknown_subject",
        "bad_date",
        "future_date",
        "not_in_codelist",
    ):
        assert reasons[code] > 0, code
    late = manifest["noise"].get("late_registrant", 0)
    assert late > 0
    assert QuarantinedRow.objects.filter(status=QuarantinedRow.Status.RESOLVED).count() == late

    # Registry: enterprises, persons, social organisations and public institutions.
    types = Counter(Subject.objects.values_list("subject_type", flat=True))
    for t in (
        "enterprise",
        "individual_business",
        "farmers_coop",
        "social_organisation",
        "public_institution",
        "natural_person",
    ):
        assert types[t] > 0, t
    assert Subject.objects.filter(former_names__isnull=False).exists()
    assert Record.objects.values("department").distinct().count() >= 12

    # Live records count as submitted when their file was received; the history does not count
    # for timeliness, which shows a realistic spread: most departments on time, a few late.
    live = Record.objects.filter(source_file__backfill=False)
    assert live.exists()
    assert not live.exclude(submitted_at=F("source_file__received_at")).exists()
    admin = User.objects.get(username="admin")
    report = selectors.timeliness(actor=admin)
    assert (
        report.backfill_records
        == Record.objects.filter(source_file__backfill=True, decision_date__isnull=False).count()
    )
    assert report.totals.records == live.filter(decision_date__isnull=False).count()
    assert 0.03 <= report.totals.late_share <= 0.40
    shares = sorted(d.late_share for d in report.departments if d.due >= 10)
    median = shares[len(shares) // 2]
    assert shares[-1] >= max(2 * median, median + 0.2)
    by_code = {d.department.code: d for d in report.departments}
    assert by_code["market"].late_share < report.totals.late_share

    # One login per role, with the printed passwords.
    logins = {x["role"]: x for x in result["logins"]}
    assert set(logins) == set(Role.values)
    for x in result["logins"]:
        assert User.objects.get(username=x["username"]).check_password(x["password"])
    binding = EnterpriseBinding.objects.get(user__username=logins["enterprise"]["username"])
    assert binding.subject.records.exists()
    assert User.objects.get(username=logins["data_officer"]["username"]).department.code == (
        "market"
    )

    # `generate` with the same options writes exactly the files the demo ingested.
    generated = tmp_path / "generated"
    _run("generate", "--out", str(generated), "--scale", SCALE)
    assert _digests(generated) == _digests(home / "demo-files")

    # Running again reuses what is built.
    records, submissions = Record.objects.count(), SourceFile.objects.count()
    again = _run("demo", "--scale", SCALE, "--no-serve")
    assert again["reused"] is True
    assert Record.objects.count() == records
    assert SourceFile.objects.count() == submissions
    assert SourceFile.objects.filter(original_name__contains="__").count() == len(manifest["files"])


def test_the_demo_files_are_a_history_and_weekly_live_drops(home):
    result = _run("generate", "--out", str(home / "files"), "--scale", "60")
    manifest = json.loads((home / "files" / "manifest.json").read_text(encoding="utf-8"))
    assert result["files"] == len(manifest["files"])
    assert (home / "files" / "history").is_dir()
    weeks = sorted(p.name for p in (home / "files" / "live").iterdir())
    assert weeks and set(weeks) <= set(manifest["live"]["weeks"])


@pytest.mark.django_db
def test_rebuild_refuses_a_database_that_is_not_the_embedded_default(home):
    # The test database is not $QUALITYCITY_HOME/qualitycity.sqlite3.
    with pytest.raises(CommandError, match="--force"):
        call_command("demo", "--rebuild", "--no-serve", "--scale", "60", stdout=io.StringIO())


def test_generate_rejects_a_scale_out_of_range(tmp_path):
    with pytest.raises(CommandError, match="scale"):
        call_command("generate", "--out", str(tmp_path), "--scale", "2000000")
