"""The ingestion API through real authentication (bearer keys and sessions)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from qualitycity.records.models import QuarantinedRow, Record, SourceFile
from tests.conftest import PASSWORD, bearer
from tests.records.ingest_files import penalty, write_csv

pytestmark = pytest.mark.django_db

NAMES = {1: "青岛甲机械有限公司", 2: "青岛乙食品有限公司"}


@pytest.fixture
def subjects(register_subjects):
    return register_subjects(NAMES)


def upload(tmp_path, rows=None, name="penalties.csv"):
    rows = rows if rows is not None else [penalty(n, name_) for n, name_ in NAMES.items()]
    path = write_csv(tmp_path / name, rows)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="text/csv")


def post(client, tmp_path, key=None, dataset="admin_penalty", rows=None, **extra):
    headers = bearer(key) if key else {}
    return client.post(
        f"/api/v1/ingest/{dataset}", {"file": upload(tmp_path, rows)}, **headers, **extra
    )


def test_ingest_with_api_key(client, tmp_path, api_key, subjects):
    key = api_key(["records.ingest", "records.read"], department="market")
    rows = [penalty(1, NAMES[1]), penalty(2, NAMES[2]), penalty(9, "未登记", decision_no="Z")]
    r = post(client, tmp_path, key, rows=rows)
    assert r.status_code == 200, r.content
    body = r.json()
    assert {k: body[k] for k in ("accepted", "rejected", "duplicates", "updated", "reasons")} == {
        "accepted": 2,
        "rejected": 1,
        "duplicates": 0,
        "updated": 0,
        "reasons": {"unknown_subject": 1},
    }
    sf = SourceFile.objects.get(pk=body["submission_id"])
    assert (sf.channel, sf.department.code, sf.api_client.department.code) == (
        "api",
        "market",
        "market",
    )
    again = post(client, tmp_path, key, rows=rows).json()
    assert again["resubmission"] is True and again["submission_id"] == sf.pk
    assert Record.objects.count() == 2

    errors = client.get(f"/api/v1/submissions/{sf.pk}/errors.csv", **bearer(key))
    assert errors.status_code == 200
    text = b"".join(errors.streaming_content).decode("utf-8-sig")
    assert "unknown_subject" in text and "未登记" in text


def test_refused_file_is_answered_with_the_refusal(client, tmp_path, api_key):
    key = api_key(["records.ingest"])
    r = client.post(
        "/api/v1/ingest/admin_penalty",
        {"file": SimpleUploadedFile("x.csv", b"colour\nred\n")},
        **bearer(key),
    )
    assert r.status_code == 200
    assert r.json()["refused"] and r.json()["refusal"]["code"] == "wrong_header"


def test_authentication_and_scopes(client, tmp_path, api_key, subjects):
    r = post(client, tmp_path)
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    r = post(client, tmp_path, "qc_not-a-key")
    assert r.status_code == 401 and r.json()["code"] == "invalid_key"
    r = post(client, tmp_path, api_key(["records.read"]))
    assert r.status_code == 403 and r.json()["code"] == "missing_scope"
    assert not SourceFile.objects.exists()


def test_dataset_not_allowed_and_unknown(client, tmp_path, api_key, subjects):
    court = api_key(["records.ingest"], department="court")
    r = post(client, tmp_path, court)
    assert r.status_code == 403 and r.json()["code"] == "department_not_allowed"
    r = post(client, tmp_path, court, dataset="no_such_dataset")
    assert r.status_code == 404 and r.json()["code"] == "unknown_dataset"
    assert not SourceFile.objects.exists()


def test_large_file_runs_as_a_job(client, tmp_path, api_key, subjects, settings):
    settings.QUALITYCITY_INGEST_SYNC_MAX_BYTES = 10
    key = api_key(["records.ingest", "jobs.read"])
    r = post(client, tmp_path, key)
    assert r.status_code == 202, r.content
    job = r.json()
    assert job["kind"] == "ingest" and job["url"] == f"/api/v1/jobs/{job['id']}"
    r = client.get(job["url"], **bearer(key))
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "succeeded", body["error"]
    assert body["outcome"]["accepted"] == 2 and body["percent"] == 100.0
    # Another client cannot follow it.
    other = api_key(["jobs.read"], department="tax")
    assert client.get(job["url"], **bearer(other)).status_code == 404


def test_submissions_are_scoped_to_the_department(client, tmp_path, api_key, make_user, subjects):
    market_key = api_key(["records.ingest", "records.read"], department="market")
    sid = post(client, tmp_path, market_key).json()["submission_id"]
    tax_key = api_key(["records.read"], department="tax")

    assert client.get(f"/api/v1/submissions/{sid}", **bearer(market_key)).status_code == 200
    r = client.get(f"/api/v1/submissions/{sid}", **bearer(tax_key))
    assert r.status_code == 404 and r.json()["code"] == "unknown_submission"
    assert client.get(f"/api/v1/submissions/{sid}/errors.csv", **bearer(tax_key)).status_code == 404
    assert client.get("/api/v1/submissions", **bearer(tax_key)).json()["total"] == 0
    listing = client.get("/api/v1/submissions", **bearer(market_key)).json()
    assert [s["id"] for s in listing["items"]] == [sid]

    # Session users: an officer of another department sees nothing, the quality office all.
    make_user("taxofficer", role="data_officer", department="tax")
    client.login(username="taxofficer", password=PASSWORD)
    assert client.get(f"/api/v1/submissions/{sid}").status_code == 404
    make_user("qo", role="quality_office")
    client.login(username="qo", password=PASSWORD)
    assert client.get(f"/api/v1/submissions/{sid}").status_code == 200


def test_session_data_officer_can_upload(client, tmp_path, make_user, subjects):
    make_user("officer", role="data_officer", department="market")
    client.login(username="officer", password=PASSWORD)
    r = post(client, tmp_path)
    assert r.status_code == 200 and r.json()["accepted"] == 2
    assert SourceFile.objects.get().submitted_by.username == "officer"
    r = client.post(
        "/api/v1/ingest/admin_penalty?department=tax",
        {"file": upload(tmp_path, name="x.csv")},
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden_department"


def test_dry_run_via_api(client, tmp_path, api_key, subjects):
    key = api_key(["records.ingest"])
    r = client.post(
        "/api/v1/ingest/admin_penalty?dry_run=true",
        {"file": upload(tmp_path)},
        **bearer(key),
    )
    assert r.status_code == 200 and r.json()["dry_run"] and r.json()["accepted"] == 2
    assert not SourceFile.objects.exists() and not QuarantinedRow.objects.exists()
