"""The lists API through the real authentication: the public catalogue and entries in force
(masked), the staff lifecycle with ``lists.decide`` of the owning department, objections and
repair applications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from qualitycity.lists.models import ListEntry
from tests.conftest import bearer

D = dt.date
pytestmark = pytest.mark.django_db


def test_the_catalogue_is_public(client: Client):
    response = client.get("/api/v1/lists")
    assert response.status_code == 200
    body = {item["code"]: item for item in response.json()}
    assert len(body) == 11
    court = body["court_dishonest"]
    assert court["kind"] == "black" and court["department"] == "court" and court["legal_basis"]
    assert court["period"]["max_months"] == 36 and court["entries_in_force"] == 0
    assert body["tax_a"]["valid_months"] == 12 and body["tax_a"]["proposal_rule"]["dataset"]


def test_public_entries_are_in_force_and_masked(client: Client, city, published):
    published("court_dishonest", city["person"], on=D(2026, 6, 1))
    published("court_dishonest", city["a"], on=D(2026, 5, 1))
    response = client.get("/api/v1/lists/court_dishonest/entries?limit=1")
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["limit"] == 1 and len(body["items"]) == 1
    [item] = body["items"]
    person = city["person"]
    assert item["subject"]["masked"] is True
    assert item["subject"]["name"] == "张**" and person.code not in response.content.decode()
    assert item["subject"]["code"] == person.code[:6] + "*" * 8 + person.code[-4:]
    assert item["published_on"] == "2026-06-01" and item["publication_ends_on"] == "2029-06-01"
    assert item["legal_basis"] and item["reason"]
    page2 = client.get("/api/v1/lists/court_dishonest/entries?limit=1&offset=1").json()
    assert page2["items"][0]["subject"]["name"] == city["a"].name
    assert client.get("/api/v1/lists").json()[0]["entries_in_force"] == 2


def test_unknown_list_is_404(client: Client):
    response = client.get("/api/v1/lists/nope/entries")
    assert response.status_code == 404 and response.json()["code"] == "unknown_list"


def test_staff_lifecycle_needs_the_scope_and_the_owning_department(client: Client, city, api_key):
    payload = {"list": "court_dishonest", "subject": city["a"].code, "reason": "拒不履行"}
    url = "/api/v1/lists/entries"
    anonymous = client.post(url, payload, content_type="application/json")
    assert anonymous.status_code == 401
    no_scope = client.post(
        url, payload, content_type="application/json", **bearer(api_key(["lists.read"], "court"))
    )
    assert no_scope.status_code == 403 and no_scope.json()["code"] == "missing_scope"
    market = client.post(
        url, payload, content_type="application/json", **bearer(api_key(["lists.decide"]))
    )
    assert market.status_code == 403 and market.json()["code"] == "forbidden_department"

    court = bearer(api_key(["lists.decide", "lists.read"], "court"))
    created = client.post(url, payload, content_type="application/json", **court)
    assert created.status_code == 201, created.json()
    entry = created.json()
    assert entry["state"] == "proposed" and entry["origin"] == "manual"
    again = client.post(url, payload, content_type="application/json", **court)
    assert again.status_code == 409 and again.json()["code"] == "entry_exists"

    base = f"/api/v1/lists/entries/{entry['id']}"
    reason = {"reason": "依法告知"}
    early = client.post(f"{base}/publish", reason, content_type="application/json", **court)
    assert early.status_code == 409
    assert early.json()["code"] == "illegal_transition"
    assert early.json()["details"]["state"] == "proposed"
    noticed = client.post(f"{base}/notice", reason, content_type="application/json", **court)
    assert noticed.status_code == 200 and noticed.json()["notice_ends_on"]
    running = client.post(f"{base}/publish", reason, content_type="application/json", **court)
    assert running.status_code == 409 and running.json()["code"] == "notice_period_running"
    blank = client.post(
        f"{base}/withdraw", {"reason": ""}, content_type="application/json", **court
    )
    assert blank.status_code == 400 and blank.json()["code"] == "reason_required"

    # Staff read every state; the history names the client.
    listed = client.get(f"{url}?state=noticed", **court).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == entry["id"]
    detail = client.get(base, **court).json()
    assert [e["kind"] for e in detail["events"]] == ["proposed", "noticed"]
    assert detail["events"][1]["actor"]["kind"] == "api_client"
    assert detail["can_decide"] is True and "withdraw" in detail["actions"]
    # The public list does not show entries that are not published.
    assert client.get("/api/v1/lists/court_dishonest/entries").json()["total"] == 0
    assert client.get(url).status_code == 401


def test_objection_and_decision_through_the_api(
    client: Client, city, published, enterprise_user, api_key
):
    entry = published("court_dishonest", city["a"], on=D(2026, 6, 1))
    client.force_login(enterprise_user(city["a"]))
    filed = client.post(
        "/api/v1/lists/objections",
        {
            "entry_id": str(entry.pk),
            "text": "已履行",
            "files": [SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 x")],
        },
    )
    assert filed.status_code == 201, filed.json()
    objection = filed.json()
    assert objection["status"] == "open" and objection["evidence"][0]["name"] == "receipt.pdf"
    mine = client.get("/api/v1/lists/objections").json()
    assert mine["total"] == 1
    sha = objection["evidence"][0]["sha256"]
    evidence_url = f"/api/v1/lists/objections/{objection['id']}/evidence/{sha}"
    download = client.get(evidence_url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 x"
    too_early = client.post(
        f"/api/v1/lists/entries/{entry.pk}/repairs",
        {"commitment": "承诺", "files": [SimpleUploadedFile("p.pdf", b"%PDF")]},
    )
    assert too_early.status_code == 409 and too_early.json()["code"] == "repair_too_early"
    assert too_early.json()["details"]["repair_allowed_from"] == "2027-06-01"
    client.logout()

    decide = f"/api/v1/lists/objections/{objection['id']}/decision"
    body = {"upheld": True, "reason": "核实成立"}
    market = client.post(
        decide, body, content_type="application/json", **bearer(api_key(["lists.decide"]))
    )
    assert market.status_code == 404  # another department does not see the objection
    hidden = client.get(evidence_url, **bearer(api_key(["lists.read"])))
    assert hidden.status_code == 404 and hidden.json()["code"] == "unknown_objection"
    court = bearer(api_key(["lists.decide"], "court"))
    decided = client.post(decide, body, content_type="application/json", **court)
    assert decided.status_code == 200 and decided.json()["status"] == "upheld"
    assert ListEntry.objects.get(pk=entry.pk).state == "removed"


def test_running_the_rules_over_the_api(client: Client, city, add_record, api_key):
    add_record(city["a"], "court_enforcement", dt.date.today(), {"status": "listed"})
    foreign = client.post(
        "/api/v1/lists/propose",
        {"lists": ["tax_a"]},
        content_type="application/json",
        **bearer(api_key(["lists.decide"], "court")),
    )
    assert foreign.status_code == 403 and foreign.json()["code"] == "forbidden_department"
    response = client.post(
        "/api/v1/lists/propose",
        {},
        content_type="application/json",
        **bearer(api_key(["lists.decide"], "court")),
    )
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "succeeded" and job["outcome"]["proposed"] == 1
    assert set(job["outcome"]["lists"]) == {"court_dishonest"}
