"""API (401/403, report flow over HTTP, scoping) and the pages (dashboard, drill-downs, review,
registries, assessment, the public release)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from qualitycity.plan import services
from tests.conftest import PASSWORD, bearer

D = dt.date


@pytest.fixture
def client_for(db):
    def make(user) -> Client:
        c = Client()
        assert c.login(username=user.username, password=PASSWORD)
        return c

    return make


def test_api_requires_authentication_and_scope(plan, api_key):
    c = Client()
    r = c.get("/api/v1/plan/targets")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    key = api_key(["lists.read"])
    r = c.get("/api/v1/plan/targets", **bearer(key))
    assert r.status_code == 403 and r.json()["details"] == {"scope": "plan.read"}
    r = c.get("/api/v1/plan/targets", **bearer(api_key(["plan.read"])))
    assert r.status_code == 200 and len(r.json()) == 23


def test_api_report_flow_and_scoping(plan, api_key, office, client_for):
    c = Client()
    agri = api_key(["plan.read", "plan.report"], department="agriculture")
    body = {"measure": "二(十二)", "period": "2019Q1", "task_status": "on_schedule",
            "narrative": "x"}  # fmt: skip
    r = c.post("/api/v1/plan/reports", body, content_type="application/json", **bearer(agri))
    assert r.status_code == 403 and r.json()["code"] == "forbidden_department"
    market = api_key(["plan.read", "plan.report"], department="market")
    body["values"] = {"sme_quality_systems": 150}
    r = c.post("/api/v1/plan/reports", body, content_type="application/json", **bearer(market))
    assert r.status_code == 201, r.json()
    pk = r.json()["id"]
    from django.core.files.uploadedfile import SimpleUploadedFile

    pdf = SimpleUploadedFile("纪要.pdf", b"%PDF-1.4 minutes", content_type="application/pdf")
    r = c.post(f"/api/v1/plan/reports/{pk}/evidence", {"files": [pdf]}, **bearer(market))
    assert r.status_code == 200 and r.json()["evidence"][0]["name"] == "纪要.pdf"
    pdf.seek(0)
    r = c.post(f"/api/v1/plan/reports/{pk}/evidence", {"files": [pdf]}, **bearer(agri))
    assert r.status_code == 404  # not visible to another department
    # A client may not review; the office (session) may.
    r = c.post(f"/api/v1/plan/reports/{pk}/accept", {}, content_type="application/json",
               **bearer(market))  # fmt: skip
    assert r.status_code == 403
    staff = client_for(office)
    r = staff.post(f"/api/v1/plan/reports/{pk}/return", {"comment": "补充"},
                   content_type="application/json")  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "returned"
    r = c.post("/api/v1/plan/reports", body, content_type="application/json", **bearer(market))
    assert r.status_code == 201
    r = staff.post(f"/api/v1/plan/reports/{pk}/accept", {}, content_type="application/json")
    assert [e["kind"] for e in r.json()["events"]] == [
        "submitted", "returned", "resubmitted", "accepted"
    ]  # fmt: skip
    # The agriculture client does not see the market's report.
    assert c.get("/api/v1/plan/reports", **bearer(agri)).json() == []
    assert len(c.get("/api/v1/plan/reports", **bearer(market)).json()) == 1
    t = c.get("/api/v1/plan/targets/sme_quality_systems", **bearer(market)).json()
    assert t["current"]["value"] == 150


def test_api_registry_load_and_items(plan, api_key, register_subjects, tmp_path):
    (a,) = register_subjects({1: "青岛海尔股份有限公司"})
    c = Client()
    path = tmp_path / "wk.csv"
    path.write_text(
        "certificate,kind,name,owner_name,owner_uscc,awarding_body,awarded_on\n"
        f"驰名-2019-1,well_known,海尔,青岛海尔股份有限公司,{a},国家知识产权局,2019-03-01\n"
    )
    key = api_key(["plan.read"])
    with open(path, "rb") as f:
        r = c.post("/api/v1/plan/registries/brand_titles", {"file": f}, **bearer(key))
    assert r.status_code == 403
    key = api_key(["plan.read", "plan.registry"], department="ip")
    with open(path, "rb") as f:
        r = c.post("/api/v1/plan/registries/brand_titles", {"file": f}, **bearer(key))
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = c.get("/api/v1/plan/targets/well_known_trademarks/items?on=2019-06-30", **bearer(key))
    assert r.json()["count"] == 1 and r.json()["items"][0]["organisations"][0]["code"] == a
    r = c.get("/api/v1/plan/targets/well_known_trademarks/items?on=2019-01-31", **bearer(key))
    assert r.json()["count"] == 0


def test_pages_render(plan, office, market_officer, client_for):
    report = services.report_submit(
        actor=market_officer, measure=plan.measures.get(number="二(十二)"), period="2019Q1",
        task_status="on_schedule", narrative="进展", values={"sme_quality_systems": 100},
    )  # fmt: skip
    services.reports_flag_overdue(plan=plan, on=D(2019, 12, 31))
    services.notices_generate(plan=plan, actor=office, on=D(2019, 12, 31))
    services.assessment_produce(plan=plan, year=2019, actor=office)
    c = client_for(office)
    page = c.get("/plan/?on=2019-12-31")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<svg class="trend"') == 23
    assert "制造业质量竞争力指数" in html
    for url in [
        "/plan/targets/valid_trademarks/?on=2019-12-31",
        "/plan/tasks/",
        "/plan/tasks/二(十二)/",
        f"/plan/reports/{report.pk}/",
        "/plan/reports/?status=overdue",
        "/plan/assessment/2019/",
        "/plan/notices/",
        "/plan/standards/",
        "/plan/brands/?kind=brand_titles",
        "/plan/export/",
    ]:
        assert c.get(url).status_code == 200, url
    # The staff dashboard (the landing page) shows the plan's panel first to the office only.
    panels = c.get("/staff/").content.decode()
    assert 'href="/plan/"' in panels and "行动方案总览" in panels
    assert "行动方案总览" not in client_for(market_officer).get("/staff/").content.decode()
    r = c.post(f"/plan/reports/{report.pk}/review/", {"decision": "accept"})
    assert r.status_code == 302
    report.refresh_from_db()
    assert report.status == "accepted"
    # The officer reaches the report form of its own measure only.
    oc = client_for(market_officer)
    assert oc.get("/plan/tasks/二(十二)/report/").status_code == 200
    assert oc.get("/plan/tasks/二(五)/report/").status_code == 404


def test_evidence_download_is_scoped(plan, market_officer, agri_officer, client_for, tmp_path):
    f = tmp_path / "会议纪要.pdf"
    f.write_bytes(b"%PDF-1.4 evidence")
    r = services.report_submit(
        actor=market_officer, measure=plan.measures.get(number="二(十二)"), period="2019Q1",
        task_status="on_schedule", narrative="x", evidence=[("会议纪要.pdf", f)],
    )  # fmt: skip
    got = client_for(market_officer).get(f"/plan/reports/{r.pk}/evidence/0/")
    assert got.status_code == 200 and b"".join(got.streaming_content) == f.read_bytes()
    assert client_for(agri_officer).get(f"/plan/reports/{r.pk}/evidence/0/").status_code == 404


def test_public_page_shows_the_release_only(plan, office, client_for):
    from qualitycity.plan.models import PlanRelease

    c = Client()
    page = c.get("/public/plan/")
    assert page.status_code == 200 and "有效注册商标总量" not in page.content.decode()
    staff = client_for(office)
    assert staff.post("/plan/act/release/", {"note": "第一次发布"}).status_code == 302
    assert PlanRelease.objects.count() == 1
    html = c.get("/public/plan/").content.decode()
    assert "第一次发布" in html and "有效注册商标总量" in html
