"""Records pages: login, department scoping, upload → job → submission, error report, quarantine."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from qualitycity.core.jobs import job_create
from qualitycity.core.models import Job, Role
from qualitycity.records.models import QuarantinedRow, Record, SourceFile
from tests.conftest import PASSWORD

from .factories_ui import make_quarantined_row, make_record, make_source_file, make_subject

pytestmark = pytest.mark.django_db

STAFF_PAGES = [
    "/records/",
    "/records/upload/",
    "/records/quarantine/",
    "/records/timeliness/",
    "/records/files/",
]


def login(client: Client, make_user, username: str, role: str, department: str | None = None):
    make_user(username, role, department)
    assert client.login(username=username, password=PASSWORD)
    return client


HEADER = (
    "行政相对人名称,统一社会信用代码,行政处罚决定书文号,违法行为类型,违法事实,处罚依据,"
    "处罚类别,罚款金额（万元）,处罚决定日期,处罚机关,处罚机关统一社会信用代码"
)


def penalty_csv(subject, rows: int = 3) -> bytes:
    lines = [HEADER]
    bad_code = subject.code[:-1] + ("0" if subject.code[-1] != "0" else "1")
    for i in range(rows):
        code = bad_code if i == 1 else subject.code
        facts = "" if i == 2 else "销售不合格产品"
        lines.append(
            f"{subject.name},{code},青市监罚〔2024〕{i + 1}号,产品质量,{facts},"
            "产品质量法第四十九条,"
            f"罚款,1.5,2024-05-0{i + 1},青岛市市场监督管理局,11370200MB28363970"
        )
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_anonymous_is_sent_to_login(client: Client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_anonymous_is_sent_to_login_for_a_submission_and_its_report(client: Client):
    sf = make_source_file()
    for url in (f"/records/submissions/{sf.pk}/", f"/records/submissions/{sf.pk}/errors.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_officer_cannot_see_another_departments_submission(client: Client, make_user):
    theirs = make_source_file(department="environment", dataset="environmental_penalty")
    row = make_quarantined_row(source_file=theirs)
    mine = make_source_file(department="market")
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    assert client.get(f"/records/submissions/{theirs.pk}/").status_code == 404
    assert client.get(f"/records/submissions/{theirs.pk}/errors.csv").status_code == 404
    assert client.get(f"/records/quarantine/{row.pk}/").status_code == 404
    assert client.post(f"/records/quarantine/{row.pk}/discard/").status_code == 404
    assert client.get(f"/records/submissions/{mine.pk}/").status_code == 200
    listing = client.get("/records/").content.decode()
    assert mine.original_name in listing and theirs.original_name not in listing
    quarantine = client.get("/records/quarantine/").content.decode()
    assert theirs.original_name not in quarantine
    row.refresh_from_db()
    assert row.status == QuarantinedRow.Status.OPEN


def test_inspector_cannot_upload(client: Client, make_user):
    login(client, make_user, "insp", Role.INSPECTOR, "market")
    assert client.get("/records/upload/").status_code == 403


def test_upload_runs_a_job_and_links_the_submission(client: Client, make_user):
    subject = make_subject()
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    page = client.get("/records/upload/")
    assert page.status_code == 200
    assert 'value="admin_penalty"' in page.content.decode()
    assert 'value="court_enforcement"' not in page.content.decode()  # the court's dataset
    upload = SimpleUploadedFile("market__admin_penalty.csv", penalty_csv(subject), "text/csv")
    response = client.post(
        "/records/upload/", {"department": "market", "dataset": "admin_penalty", "file": upload}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert response["Location"] == f"/records/jobs/{job.pk}/"
    assert job.status == Job.Status.SUCCEEDED, job.error
    sf = SourceFile.objects.get()
    assert (sf.accepted, sf.rejected) == (1, 2)
    assert sf.department.code == "market" and sf.channel == "web"
    assert Record.objects.filter(source_file=sf).count() == 1

    html = client.get(response["Location"]).content.decode()
    assert f"/records/submissions/{sf.pk}/" in html
    assert f"/records/submissions/{sf.pk}/errors.csv" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling

    detail = client.get(f"/records/submissions/{sf.pk}/").content.decode()
    assert "errors.csv" in detail and "bad_check" in detail

    report = client.get(f"/records/submissions/{sf.pk}/errors.csv")
    assert report.status_code == 200
    assert report["Content-Type"].startswith("text/csv")
    raw = b"".join(report.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads the Chinese text right
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["row", "field", "code", "message"]
    assert "统一社会信用代码" in header
    codes = {r[2] for r in body}
    assert "bad_check" in codes
    assert any(r[0] == "3" for r in body) and any(r[0] == "4" for r in body)
    assert all(subject.name in r for r in body)  # the original cells are there


def test_dry_run_upload_stores_nothing(client: Client, make_user):
    subject = make_subject()
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    upload = SimpleUploadedFile("p.csv", penalty_csv(subject), "text/csv")
    response = client.post(
        "/records/upload/",
        {"department": "market", "dataset": "admin_penalty", "file": upload, "dry_run": "on"},
    )
    assert response.status_code == 302
    job = Job.objects.get()
    assert job.outcome["dry_run"] is True
    assert job.outcome["accepted"] == 1
    assert Record.objects.count() == 0


def test_officer_cannot_upload_for_another_department(client: Client, make_user):
    subject = make_subject()
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    upload = SimpleUploadedFile("p.csv", penalty_csv(subject), "text/csv")
    response = client.post(
        "/records/upload/",
        {"department": "environment", "dataset": "admin_penalty", "file": upload},
    )
    assert response.status_code == 200  # the form again, with an error
    assert Job.objects.count() == 0


def test_job_progress_partial_polls_while_running(client: Client, make_user):
    user = login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    del user
    job = job_create(kind="ingest", title="t", params={}, user=None)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING, total=1000, done=250, department_id=None
    )
    # a job of nobody's department is not visible to a department officer
    assert client.get(f"/records/jobs/{job.pk}/").status_code == 404
    from qualitycity.core.models import Department, User

    Job.objects.filter(pk=job.pk).update(
        created_by=User.objects.get(username="m1"),
        department=Department.objects.get(code="market"),
    )
    html = client.get(f"/records/jobs/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in html
    assert f'hx-get="/records/jobs/{job.pk}/progress/"' in html
    assert "25.0%" in html


def test_quarantine_correction_and_discard(client: Client, make_user):
    subject = make_subject()
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    upload = SimpleUploadedFile("market__admin_penalty.csv", penalty_csv(subject), "text/csv")
    client.post(
        "/records/upload/", {"department": "market", "dataset": "admin_penalty", "file": upload}
    )
    bad_code = QuarantinedRow.objects.get(primary_reason="bad_check")
    other = QuarantinedRow.objects.exclude(pk=bad_code.pk).get()

    listing = client.get("/records/quarantine/?reason=bad_check").content.decode()
    assert f"/records/quarantine/{bad_code.pk}/" in listing
    assert f"/records/quarantine/{other.pk}/" not in listing

    form = client.get(f"/records/quarantine/{bad_code.pk}/").content.decode()
    assert "bad_check" in form and 'aria-invalid="true"' in form

    cells = {f"cell:{k}": v for k, v in bad_code.raw.items() if k != "_line"}
    cells["cell:统一社会信用代码"] = subject.code
    response = client.post(f"/records/quarantine/{bad_code.pk}/", cells)
    assert response.status_code == 302
    bad_code.refresh_from_db()
    assert bad_code.status == QuarantinedRow.Status.RESOLVED
    assert Record.objects.count() == 2

    response = client.post(f"/records/quarantine/{other.pk}/discard/")
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == QuarantinedRow.Status.DISCARDED


def test_timeliness_page_and_drill_down(client: Client, make_user):
    import datetime as dt

    from .factories_ui import local

    s = make_subject()
    make_record(
        subject=s,
        dataset="admin_penalty",
        decision_date=dt.date(2024, 9, 26),
        submitted_at=local(dt.date(2024, 10, 14)),
        record_id="LATE-X",
    )
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    html = client.get("/records/timeliness/").content.decode()
    assert "青岛市市场监督管理局" in html or "Market" in html
    drill = client.get("/records/timeliness/?department=market").content.decode()
    assert "LATE-X" in drill
    assert "2024-10-11" in drill  # due date: 7 working days after the decision


def test_dashboard_shows_records_panels(client: Client, make_user):
    s = make_subject()
    make_record(subject=s)
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    response = client.get("/staff/")
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("subjects", "records", "quarantine", "timeliness"):
        assert f'id="panel-records{key}"' in html  # the key "records.<name>", slugified
    assert 'class="bar' in html
    assert "unavailable" not in html


def test_credit_file_lookup_redirects_to_the_file(client: Client, make_user):
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    assert client.get("/records/files/").status_code == 200
    response = client.get("/records/files/?code=91370202MA3C000000")
    assert response.status_code == 302
    assert response["Location"] == "/records/files/91370202MA3C000000/"


def test_reasons_are_shown_in_the_readers_language(client: Client, make_user, settings):
    """Reasons are stored in English; pages show them in Chinese by default, English on request."""
    subject = make_subject()
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    upload = SimpleUploadedFile("market__admin_penalty.csv", penalty_csv(subject), "text/csv")
    client.post(
        "/records/upload/", {"department": "market", "dataset": "admin_penalty", "file": upload}
    )
    bad_code = QuarantinedRow.objects.get(primary_reason="bad_check")
    stored = bad_code.reasons[0]["message"]
    assert stored == "Position 18 does not match the unified social credit code check."

    row = client.get(f"/records/quarantine/{bad_code.pk}/").content.decode()
    assert "第 18 位与统一社会信用代码校验码不符。" in row and stored not in row
    listing = client.get("/records/quarantine/").content.decode()
    assert "缺少必填项。" in listing  # the reason codes' labels, and the missing "facts"
    submission = client.get(f"/records/submissions/{bad_code.source_file_id}/").content.decode()
    assert "校验码不符。" in submission

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    row = client.get(f"/records/quarantine/{bad_code.pk}/").content.decode()
    assert stored in row and "校验码" not in row


def test_a_reason_with_values_falls_back_to_its_codes_message():
    from django.utils import translation

    from qualitycity.records.templatetags.records_ui import reason_label, reason_text

    reason = {"field": "fine_amount", "code": "out_of_range", "message": "The number must be…"}
    with translation.override("zh-hans"):
        assert reason_text(reason) == "数值超出允许范围。"
        assert reason_label("unknown_subject") == "主体代码有效，但该主体尚未登记。"
        assert reason_label("no_such_code") == "no_such_code"
    with translation.override("en"):
        assert reason_text(reason) == "The number must be…"  # English keeps the values


def test_a_refused_file_is_explained_in_the_readers_language(client: Client, make_user, settings):
    login(client, make_user, "m1", Role.DATA_OFFICER, "market")
    empty = SimpleUploadedFile("market__admin_penalty.csv", (HEADER + "\n").encode(), "text/csv")
    client.post(
        "/records/upload/", {"department": "market", "dataset": "admin_penalty", "file": empty}
    )
    sf = SourceFile.objects.get(refusal_code="empty_file")
    assert sf.refusal_message == "The file has a header but no rows."  # stored as it is
    page = client.get(f"/records/submissions/{sf.pk}/").content.decode()
    assert "文件只有表头，没有数据行。" in page

    wrong = SimpleUploadedFile("x.csv", "名称,代码\n甲,乙\n".encode(), "text/csv")
    client.post(
        "/records/upload/", {"department": "market", "dataset": "admin_penalty", "file": wrong}
    )
    sf = SourceFile.objects.get(refusal_code="wrong_header")
    page = client.get(f"/records/submissions/{sf.pk}/").content.decode()
    # the particulars (which columns) stay as they are, after the translated meaning
    assert "表头与数据目录不符：缺少列或含有未知列。（The header does not match" in page

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get(f"/records/submissions/{sf.pk}/").content.decode()
    assert "The header does not match dataset admin_penalty" in page and "表头与" not in page
