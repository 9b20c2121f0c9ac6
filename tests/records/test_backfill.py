"""Submissions' receipt time and backfill: stored, used as the records' submission time,
refused in the future, excluded from timeliness, an operator's (city-wide) act only."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from qualitycity.core.errors import PermissionDenied, ValidationFailed
from qualitycity.core.models import Department, Role, User
from qualitycity.records import selectors
from qualitycity.records.models import Record, SourceFile
from qualitycity.records.services import ingest_file, ingest_path
from tests.conftest import PASSWORD, bearer
from tests.records.ingest_files import penalty, write_csv

pytestmark = pytest.mark.django_db

NAMES = {1: "青岛甲机械有限公司", 2: "青岛乙食品有限公司", 3: "青岛丙商贸有限公司"}
MONDAY = "2025-09-01"  # decisions; the 7th working day after is Wednesday 10 September


def local(text: str) -> dt.datetime:
    return timezone.make_aware(dt.datetime.fromisoformat(text), timezone.get_current_timezone())


@pytest.fixture
def subjects(register_subjects):
    return register_subjects(NAMES)


@pytest.fixture
def market() -> Department:
    return Department.objects.get(code="market")


def rows(*numbers: int, prefix: str = "A", decided: str = MONDAY) -> list[dict]:
    return [
        penalty(n, NAMES[n], decision_no=f"{prefix}-{n}", decision_date=decided) for n in numbers
    ]


def ingest(tmp_path, market, name: str, data: list[dict], **kw):
    path = write_csv(tmp_path / name, data)
    return ingest_file(path=path, department=market, dataset="admin_penalty", channel="cli", **kw)


def test_received_at_is_recorded_and_is_the_records_submission_time(tmp_path, market, subjects):
    when = local("2025-09-03T10:30")
    result = ingest(tmp_path, market, "a.csv", rows(1, 2), received_at=when)
    assert result.accepted == 2
    sf = SourceFile.objects.get(pk=result.submission_id)
    assert sf.received_at == when and sf.backfill is False
    assert {r.submitted_at for r in Record.objects.all()} == {when}

    # Without one, the submission is received now.
    before = timezone.now()
    result = ingest(tmp_path, market, "b.csv", rows(3, prefix="B"))
    sf = SourceFile.objects.get(pk=result.submission_id)
    assert before <= sf.received_at <= timezone.now()
    assert Record.objects.get(source_record_id="B-3").submitted_at == sf.received_at


def test_resubmitting_the_same_file_changes_nothing(tmp_path, market, subjects):
    first = ingest(tmp_path, market, "a.csv", rows(1), received_at=local("2025-09-03T10:30"))
    again = ingest(
        tmp_path, market, "a.csv", rows(1), received_at=local("2025-09-20T10:30"), backfill=True
    )
    assert again.resubmission and again.submission_id == first.submission_id
    sf = SourceFile.objects.get()
    assert sf.received_at == local("2025-09-03T10:30") and sf.backfill is False
    assert Record.objects.get().submitted_at == local("2025-09-03T10:30")


def test_a_receipt_in_the_future_is_refused(tmp_path, market, subjects):
    tomorrow = timezone.now() + dt.timedelta(days=1)
    with pytest.raises(ValidationFailed) as exc:
        ingest(tmp_path, market, "a.csv", rows(1), received_at=tomorrow)
    assert exc.value.code == "received_at_in_future"
    assert not SourceFile.objects.exists() and not Record.objects.exists()
    with pytest.raises(ValidationFailed) as exc:
        ingest_path(path=tmp_path / "a.csv", received_at=timezone.now() + dt.timedelta(hours=1))
    assert exc.value.code == "received_at_in_future"


def test_backfill_is_left_out_of_timeliness(tmp_path, market, subjects, client, make_user):
    # History migrated in today: decided in 2025, "submitted" now, so hopelessly "late".
    ingest(tmp_path, market, "history.csv", rows(1, 2, prefix="H"), backfill=True)
    # Live: one on time (2 working days), one late (14 working days).
    ingest(tmp_path, market, "w1.csv", rows(1, prefix="L"), received_at=local("2025-09-03T09:00"))
    ingest(tmp_path, market, "w3.csv", rows(2, prefix="L"), received_at=local("2025-09-19T09:00"))
    qo = make_user("qo", role=Role.QUALITY_OFFICE)

    report = selectors.timeliness(actor=qo)
    assert report.backfill_records == 2
    assert report.totals.records == 2 and report.totals.due == 2 and report.totals.late == 1
    (dept,) = report.departments
    assert (dept.department.code, dept.median, dept.max) == ("market", 2.0, 14)
    assert report.as_dict()["excluded_backfill_records"] == 2
    late = selectors.late_submissions(actor=qo)
    assert [r["record"].source_record_id for r in late.records] == ["L-2"]
    assert late.records[0]["delay"] == 14

    client.login(username="qo", password=PASSWORD)
    html = client.get("/records/timeliness/").content.decode()
    assert 'id="backfill"' in html and "已排除 2 条补录记录" in html
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get("/records/timeliness/").content.decode()
    assert "2 backfill records are excluded" in html
    dashboard = client.get("/staff/").content.decode()
    assert "Backfill (2 records" in dashboard


def test_only_city_wide_roles_may_mark_backfill_or_state_the_receipt(tmp_path, market, subjects):
    officer = User.objects.create_user(
        username="officer", password=PASSWORD, role=Role.DATA_OFFICER, department=market
    )
    with pytest.raises(PermissionDenied) as exc:
        ingest(tmp_path, market, "a.csv", rows(1), actor=officer, backfill=True)
    assert exc.value.code == "backfill_not_allowed"
    with pytest.raises(PermissionDenied) as exc:
        ingest(
            tmp_path, market, "a.csv", rows(1), actor=officer, received_at=local("2025-09-03T09:00")
        )
    assert exc.value.code == "received_at_not_allowed"
    assert not SourceFile.objects.exists()

    admin = User.objects.create_user(
        username="admin", password=PASSWORD, role=Role.PLATFORM_ADMIN, is_superuser=True
    )
    result = ingest(tmp_path, market, "a.csv", rows(1), actor=admin, backfill=True)
    assert SourceFile.objects.get(pk=result.submission_id).backfill is True


def _upload(tmp_path, data: list[dict], name: str = "penalties.csv") -> SimpleUploadedFile:
    path = write_csv(tmp_path / name, data)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")


def test_a_department_api_key_cannot_set_backfill(client, tmp_path, api_key, subjects):
    key = api_key(["records.ingest", "records.read"], department="market")
    url = "/api/v1/ingest/admin_penalty"
    r = client.post(url, {"file": _upload(tmp_path, rows(1)), "backfill": "true"}, **bearer(key))
    assert r.status_code == 403 and r.json()["code"] == "backfill_not_allowed", r.content
    r = client.post(
        url,
        {"file": _upload(tmp_path, rows(1)), "received_at": "2025-09-03T09:00"},
        **bearer(key),
    )
    assert r.status_code == 403 and r.json()["code"] == "received_at_not_allowed"
    assert not SourceFile.objects.exists()
    # Without the fields it submits as usual, received now.
    r = client.post(url, {"file": _upload(tmp_path, rows(1))}, **bearer(key))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    sid = r.json()["submission_id"]
    body = client.get(f"/api/v1/submissions/{sid}", **bearer(key)).json()
    assert body["backfill"] is False and body["received_at"]


def test_city_wide_users_upload_backfill_and_past_receipts_via_the_api(
    client, tmp_path, make_user, subjects, settings
):
    make_user("qo", role=Role.QUALITY_OFFICE)
    client.login(username="qo", password=PASSWORD)
    url = "/api/v1/ingest/admin_penalty?department=market"
    r = client.post(url, {"file": _upload(tmp_path, rows(1), "h.csv"), "backfill": "true"})
    assert r.status_code == 200, r.content
    assert SourceFile.objects.get(pk=r.json()["submission_id"]).backfill is True

    r = client.post(
        url, {"file": _upload(tmp_path, rows(2), "w.csv"), "received_at": "2025-09-03T09:15"}
    )
    sf = SourceFile.objects.get(pk=r.json()["submission_id"])
    assert sf.received_at == local("2025-09-03T09:15") and sf.backfill is False

    future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    r = client.post(url, {"file": _upload(tmp_path, rows(3), "f.csv"), "received_at": future})
    assert r.status_code == 400 and r.json()["code"] == "received_at_in_future"
    r = client.post(url, {"file": _upload(tmp_path, rows(3), "f.csv"), "received_at": "soon"})
    assert r.status_code == 400 and r.json()["code"] == "bad_received_at"

    # Large files run as a job: received when uploaded (or as stated), not when the job runs.
    settings.QUALITYCITY_INGEST_SYNC_MAX_BYTES = 10
    r = client.post(url, {"file": _upload(tmp_path, rows(3), "j.csv"), "received_at": "2025-09-04"})
    assert r.status_code == 202, r.content
    sf = SourceFile.objects.get(original_name="j.csv")
    assert sf.received_at == local("2025-09-04T00:00")
    assert Record.objects.get(source_record_id="A-3").submitted_at == sf.received_at


def test_cli_received_at_and_backfill(tmp_path, subjects, capsys):
    path = write_csv(tmp_path / "market__admin_penalty.csv", rows(1, 2))
    call_command(
        "ingest", str(path), "--received-at", "2025-09-03T10:30", "--json", "--no-progress"
    )
    out = orjson.loads(capsys.readouterr().out)
    sf = SourceFile.objects.get(pk=out["submission_id"])
    assert sf.received_at == local("2025-09-03T10:30") and sf.backfill is False

    folder = tmp_path / "history"
    folder.mkdir()
    write_csv(folder / "market__admin_penalty.csv", rows(3, prefix="H"))
    call_command("ingest", str(folder), "--backfill", "--json", "--no-progress")
    out = orjson.loads(capsys.readouterr().out)
    sf = SourceFile.objects.get(pk=out["files"][0]["submission_id"])
    assert sf.backfill is True

    with pytest.raises(CommandError, match="received_at_in_future"):
        call_command("ingest", str(path), "--received-at", "2999-01-01", "--no-progress")
    with pytest.raises(CommandError, match="bad_received_at"):
        call_command("ingest", str(path), "--received-at", "yesterday", "--no-progress")
