"""CLI commands: --json forms for scripts, API client keys shown once."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from qualitycity.core.models import ApiClient, ObjectChange

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_departments_json():
    rows = json.loads(run("departments", "--json"))
    market = next(r for r in rows if r["code"] == "market")
    assert market["name_zh"] == "青岛市市场监督管理局"
    assert sum(r["data_holding"] for r in rows) == 16


def test_apiclient_create_prints_a_working_key_once():
    created = json.loads(
        run(
            "apiclient",
            "create",
            "tax-system",
            "--department",
            "tax",
            "--scopes",
            "subjects.read",
            "--json",
        )
    )
    key = created["key"]
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    listing = run("apiclient", "list", "--json")
    assert key not in listing
    assert json.loads(listing)[0]["name"] == "tax-system"
    assert ObjectChange.objects.filter(object_repr="tax-system", action="create", source="cli")
    assert key not in json.dumps(ObjectChange.objects.get(object_repr="tax-system").postchange_data)


def test_apiclient_create_refuses_unknown_department_and_scope():
    with pytest.raises(CommandError, match="unknown_department"):
        run("apiclient", "create", "x", "--department", "nowhere", "--scopes", "subjects.read")
    with pytest.raises(CommandError, match="unknown_scope"):
        run("apiclient", "create", "x", "--department", "tax", "--scopes", "everything")
    assert not ApiClient.objects.exists()


def test_users_create_and_list_json():
    run(
        "users",
        "create",
        "officer",
        "--role",
        "data_officer",
        "--department",
        "tax",
        "--password",
        "pw-123456789",
    )
    rows = json.loads(run("users", "list", "--json"))
    assert rows == [
        {"username": "officer", "role": "data_officer", "department": "tax", "active": True}
    ]
    with pytest.raises(CommandError, match="department_required"):
        run("users", "create", "nodept", "--role", "data_officer", "--password", "pw-123456789")


def test_jobs_json_lists_progress():
    from qualitycity.core.jobs import JOB_KINDS, job_create, job_kind, job_run

    @job_kind("test_noop")
    def noop(job, progress):
        progress.set_total(2)
        progress.advance(2)
        return {"ok": True}

    try:
        job_run(job_create(kind="test_noop", title="noop", params={}))
    finally:
        JOB_KINDS.pop("test_noop")
    rows = json.loads(run("jobs", "--json"))
    assert rows[0]["status"] == "succeeded"
    assert rows[0]["percent"] == 100.0
    assert rows[0]["outcome"] == {"ok": True}
