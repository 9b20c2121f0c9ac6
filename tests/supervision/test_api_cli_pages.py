"""The API (401/403, department scoping, draw and verify over HTTP), the command line
(--json, verify exit codes naming the difference), the staff pages and the public page."""

from __future__ import annotations

import json
import zlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from qualitycity.core.models import Role
from qualitycity.subjects.models import EnterpriseBinding
from qualitycity.subjects.services import subjects_register
from qualitycity.supervision import services
from qualitycity.supervision.models import DrawAttempt, InspectionTask, TaskAssignment
from tests.conftest import PASSWORD, bearer
from tests.subjects.factories import person_row

pytestmark = pytest.mark.django_db

PLAN = {
    "name": "联合抽查",
    "items": [
        {"department": "market", "matter": "食品经营检查"},
        {"department": "health", "matter": "卫生检查"},
    ],
    "ratios": {"A": 10, "B": 30, "C": 50, "D": 100},
}


def run(*args: str) -> str:
    out = StringIO()
    call_command("inspections", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_api_needs_authentication_and_scopes(client: Client, city, inspectors, api_key):
    assert client.get("/api/v1/supervision/plans").status_code == 401
    r = client.post("/api/v1/supervision/plans", PLAN, content_type="application/json")
    assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
    reader = api_key(["supervision.read"])
    r = client.post(
        "/api/v1/supervision/plans", PLAN, content_type="application/json", **bearer(reader)
    )
    assert r.status_code == 403 and r.json()["code"] == "missing_scope"
    planner = api_key(["supervision.read", "supervision.plan"], department="market")
    bad = dict(PLAN, ratios={"A": 10, "B": 130, "C": 50, "D": 100})
    r = client.post(
        "/api/v1/supervision/plans", bad, content_type="application/json", **bearer(planner)
    )
    assert r.status_code == 400 and r.json()["code"] == "bad_ratio"
    assert r.json()["details"]["class"] == "B"
    r = client.post(
        "/api/v1/supervision/plans", PLAN, content_type="application/json", **bearer(planner)
    )
    assert r.status_code == 201, r.json()
    pid = r.json()["id"]
    assert r.json()["joint"] is True
    r = client.post(
        f"/api/v1/supervision/plans/{pid}/draw",
        {},
        content_type="application/json",
        **bearer(planner),
    )
    assert r.status_code == 201 and r.json()["number"] == 1
    again = client.post(
        f"/api/v1/supervision/plans/{pid}/draw",
        {},
        content_type="application/json",
        **bearer(planner),
    )
    assert again.status_code == 400 and again.json()["code"] == "reason_required"
    v = client.get(f"/api/v1/supervision/plans/{pid}/verify", **bearer(reader)).json()
    assert v["reproduced"] is True
    tasks = client.get(f"/api/v1/supervision/plans/{pid}/tasks", **bearer(reader)).json()
    assert tasks["total"] == len(tasks["items"]) > 0
    number = tasks["items"][0]["number"]
    # results: the client of another department (not of the task) gets 403
    env = api_key(["supervision.read", "supervision.result"], department="environment")
    payload = {"outcome": "conforming", "inspected_on": timezone.localdate().isoformat()}
    url = f"/api/v1/supervision/plans/{pid}/tasks/{number}/results"
    r = client.post(url, payload, content_type="application/json", **bearer(env))
    assert r.status_code in (403, 404)
    health = api_key(["supervision.read", "supervision.result"], department="health")
    r = client.post(url, payload, content_type="application/json", **bearer(health))
    assert r.status_code == 201 and r.json()["department"] == "health" and r.json()["record"]
    r = client.post(url, payload, content_type="application/json", **bearer(reader))
    assert r.status_code == 403


def test_api_result_for_other_departments_task_is_403(client, city, inspectors, api_key, make_user):
    plan = services.plan_create(
        actor=None, name="m", items=[PLAN["items"][0]], ratios=PLAN["ratios"]
    )
    services.plan_draw(plan=plan, actor=None)
    number = InspectionTask.objects.filter(plan=plan).first().number
    user = make_user("health-officer", role=Role.DATA_OFFICER, department="health")
    client.login(username=user.username, password=PASSWORD)
    # the health officer cannot see the market-only plan (404); city-wide naming health: 403
    qo = make_user("qo", role=Role.QUALITY_OFFICE)
    client.login(username=qo.username, password=PASSWORD)
    r = client.post(
        f"/api/v1/supervision/plans/{plan.pk}/tasks/{number}/results",
        {
            "outcome": "conforming",
            "inspected_on": timezone.localdate().isoformat(),
            "department": "health",
        },
        content_type="application/json",
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden_department"


def test_api_enterprise_commitments_and_incidents(client, city, make_user):
    user = make_user("ent", role=Role.ENTERPRISE)
    EnterpriseBinding.objects.create(user=user, subject=city[0])
    client.login(username=user.username, password=PASSWORD)
    r = client.post(
        "/api/v1/supervision/commitments",
        {"template": "public_integrity"},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["subject"] == city[0].code
    r = client.post(
        "/api/v1/supervision/commitments",
        {"template": "public_integrity", "subject": city[1].code},
        content_type="application/json",
    )
    assert r.status_code == 403 and r.json()["code"] == "not_your_subject"
    r = client.post(
        "/api/v1/supervision/incidents",
        {"product": "水杯", "defect": "破裂", "discovered_at": timezone.now().isoformat()},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["late"] is False
    assert r.json()["events"][0]["kind"] == "reported"
    assert client.get("/api/v1/supervision/plans").status_code == 403


def test_cli_list_draw_verify_and_tamper(joint_plan):
    assert json.loads(run("list", "--json"))[0]["current_draw"] is None
    out = json.loads(run("draw", str(joint_plan.pk), "--json"))
    assert out["number"] == 1 and out["task_count"] > 0
    rows = json.loads(run("list", "--json"))
    assert rows[0]["current_draw"]["seed"] == out["seed"]
    assert "联合抽查" in run("list")
    assert "reproduced exactly" in run("verify", str(joint_plan.pk))
    assert json.loads(run("verify", str(joint_plan.pk), "--json"))["reproduced"] is True
    shown = json.loads(run("show", str(joint_plan.pk), "--json"))
    assert len(shown["draws"]) == 1 and shown["tasks"][0]["inspectors"]
    # tamper with the stored draw: swap one assignment's inspector
    a = TaskAssignment.objects.order_by("task__number", "position").first()
    spare = a.inspector.department.inspectors.exclude(
        pk__in=a.task.assignments.values("inspector")
    ).first()
    TaskAssignment.objects.filter(pk=a.pk).update(inspector=spare)
    with pytest.raises(CommandError) as exc:
        run("verify", str(joint_plan.pk))
    assert exc.value.returncode == 4
    assert f"Task {a.task.number}" in str(exc.value) and spare.badge_no in str(exc.value)
    TaskAssignment.objects.filter(pk=a.pk).update(inspector=a.inspector)
    assert "reproduced exactly" in run("verify", str(joint_plan.pk))
    # tamper with the inspector pool snapshot
    d = DrawAttempt.objects.get()
    data = zlib.decompress(bytes(d.inspectors_snapshot)).replace(b"\tmarket\t", b"\thealth\t", 1)
    DrawAttempt.objects.filter(pk=d.pk).update(inspectors_snapshot=zlib.compress(data))
    with pytest.raises(CommandError) as exc:
        run("verify", str(joint_plan.pk))
    assert exc.value.returncode == 3 and "inspector pool" in str(exc.value)
    with pytest.raises(CommandError, match="reason_required"):
        run("draw", str(joint_plan.pk))
    with pytest.raises(CommandError, match="plan_not_found"):
        run("verify", "999")


def test_public_page_publishes_results_and_masks_persons(client, joint_plan, city):
    services.plan_draw(plan=joint_plan, actor=None)
    from qualitycity.core.models import Department

    task = InspectionTask.objects.filter(plan=joint_plan).select_related("subject").first()
    services.result_enter(
        task=task,
        actor=None,
        outcome="issues_found",
        inspected_on=timezone.localdate(),
        department=Department.objects.get(code="market"),
    )
    # a natural person inspected (e.g. an individual business) appears masked
    subjects_register(
        rows=[person_row(77, "王小明")],
        department=Department.objects.get(code="market"),
        source_file=None,
    )
    from qualitycity.subjects.models import Subject

    person = Subject.objects.get(kind="person", name="王小明")
    InspectionTask.objects.filter(pk=task.pk).update(subject=person)
    page = client.get("/public/inspections/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "王小明" not in html and "王**" in html and person.code not in html
    assert DrawAttempt.objects.get().seed in html


def test_staff_pages(client, joint_plan, make_user, city):
    qo = make_user("qo2", role=Role.QUALITY_OFFICE)
    client.login(username=qo.username, password=PASSWORD)
    assert client.get("/supervision/").status_code == 200
    assert client.get("/supervision/plans/new/").status_code == 200
    r = client.post(
        "/supervision/plans/new/",
        {
            "name": "页面创建的计划",
            "departments": ["market"],
            "matter": "market: 检查",
            "ratio_A": "5",
            "ratio_B": "10",
            "ratio_C": "30",
            "ratio_D": "70",
            "min_inspectors": 2,
        },
    )
    assert r.status_code == 302
    pid = int(r["Location"].rstrip("/").split("/")[-1])
    assert client.post(f"/supervision/plans/{pid}/draw/").status_code == 302
    assert client.post(f"/supervision/plans/{pid}/verify/").status_code == 302
    page = client.get(f"/supervision/plans/{pid}/")
    assert "verification" in page.content.decode()
    number = InspectionTask.objects.filter(plan_id=pid).first().number
    assert client.get(f"/supervision/plans/{pid}/tasks/{number}/").status_code == 200
    for url in (
        "/supervision/spot-checks/",
        "/supervision/incidents/",
        "/supervision/commitments/",
    ):
        assert client.get(url).status_code == 200
    ent = make_user("ent9", role=Role.ENTERPRISE)
    EnterpriseBinding.objects.create(user=ent, subject=city[3])
    client.login(username=ent.username, password=PASSWORD)
    assert client.get("/supervision/").status_code == 302
    r = client.post("/supervision/commitments/", {"template": "licence_application"})
    assert r.status_code == 302
    assert city[3].commitments.count() == 1
    assert client.get(f"/supervision/plans/{pid}/").status_code == 403


def test_inspector_pool_cli_api_and_page(client, city, api_key, make_user):
    out = json.loads(
        run(
            "inspector-add",
            "MA001",
            "--name",
            "王建国",
            "--department",
            "market",
            "--qualification",
            "food",
            "--district",
            "370202",
            "--json",
        )
    )
    assert out["qualifications"] == ["food"] and out["department"] == "market"
    with pytest.raises(CommandError, match="duplicate_badge"):
        run("inspector-add", "MA001", "--name", "x", "--department", "market")
    assert "MA001" in run("conflict", "MA001", city[0].code, "--reason", "亲属")
    rows = json.loads(run("inspectors", "--json"))
    assert rows == [
        {
            "badge_no": "MA001",
            "name": "王建国",
            "department": "market",
            "qualifications": ["food"],
            "district": "370202",
            "active": True,
            "user": None,
            "conflicts": 1,
        }
    ]
    key = api_key(["supervision.read", "supervision.plan"], department="health")
    body = {"badge_no": "MA002", "name": "李", "department": "market"}
    r = client.post(
        "/api/v1/supervision/inspectors", body, content_type="application/json", **bearer(key)
    )
    assert r.status_code == 403 and r.json()["code"] == "forbidden_department"
    body["department"] = "health"
    r = client.post(
        "/api/v1/supervision/inspectors", body, content_type="application/json", **bearer(key)
    )
    assert r.status_code == 201
    assert [
        i["badge_no"] for i in client.get("/api/v1/supervision/inspectors", **bearer(key)).json()
    ] == ["MA002"]
    officer = make_user("mk", role=Role.DATA_OFFICER, department="market")
    client.login(username=officer.username, password=PASSWORD)
    r = client.post(
        "/supervision/inspectors/",
        {
            "add": "1",
            "i-badge_no": "MA003",
            "i-name": "赵",
            "i-department": "market",
            "i-qualifications": "food, product",
        },
    )
    assert r.status_code == 302
    page = client.get("/supervision/inspectors/").content.decode()
    assert "MA003" in page and "MA001" in page and "MA002" not in page


def test_commitments_and_overdue_commands(enterprise, joint_plan):
    out = StringIO()
    call_command("commitments", "templates", "--json", stdout=out)
    assert {t["code"] for t in json.loads(out.getvalue())} == {
        "licence_application",
        "subsidy_application",
        "public_integrity",
    }
    services.commitment_sign(actor=enterprise, template="public_integrity")
    out = StringIO()
    call_command("commitments", "list", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert len(rows) == 1 and rows[0]["status"] == "in_force"
    out = StringIO()
    call_command("commitments", "check", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"broken": 0, "ended": 0}
    services.plan_draw(plan=joint_plan, actor=None)
    import datetime as dt

    from qualitycity.core.models import Department

    task = InspectionTask.objects.filter(plan=joint_plan).first()
    services.result_enter(
        task=task,
        actor=None,
        outcome="conforming",
        inspected_on=timezone.localdate() - dt.timedelta(days=60),
        department=Department.objects.get(code="market"),
        publish=False,
    )
    data = json.loads(run("overdue", "--json"))
    assert data["flagged"] == 1 and data["late"][0]["task"] == task.number
    assert "0 result(s) newly flagged; 1 late in all." in run("overdue")


def test_api_spot_checks(client, city, api_key):
    key = api_key(
        ["supervision.read", "supervision.plan", "supervision.result"], department="market"
    )
    r = client.post(
        "/api/v1/supervision/spot-checks",
        {"name": "儿童玩具抽查", "product_category": "儿童玩具", "risk": "high"},
        content_type="application/json",
        **bearer(key),
    )
    assert r.status_code == 201
    pid = r.json()["id"]
    r = client.post(
        f"/api/v1/supervision/spot-checks/{pid}/samples",
        {"subject": city[4].code, "product": "毛绒玩具", "batch": "B1"},
        content_type="application/json",
        **bearer(key),
    )
    assert r.status_code == 201
    no = r.json()["sample_no"]
    r = client.post(
        f"/api/v1/supervision/samples/{no}/result",
        {"result": "fail", "failed_items": "小零件", "standard": "GB 6675.2-2014"},
        content_type="application/json",
        **bearer(key),
    )
    assert r.status_code == 200 and r.json()["rectification_due"] and r.json()["record"]
    r = client.post(f"/api/v1/supervision/samples/{no}/recheck", **bearer(key))
    assert r.status_code == 201 and r.json()["recheck_of"] == no
    other = api_key(["supervision.read", "supervision.result"], department="health")
    r = client.post(
        f"/api/v1/supervision/samples/{r.json()['sample_no']}/result",
        {"result": "pass"},
        content_type="application/json",
        **bearer(other),
    )
    assert r.status_code in (403, 404)
    listing = client.get("/api/v1/supervision/spot-checks", **bearer(key)).json()
    assert len(listing[0]["samples"]) == 2


def test_joint_plan_from_the_form(client, make_user, city, inspectors):
    qo = make_user("qo3", role=Role.QUALITY_OFFICE)
    client.login(username=qo.username, password=PASSWORD)
    form = {
        "name": "联合",
        "departments": ["market", "health"],
        "matter": "market: 食品经营检查\nhealth：卫生检查",
        "ratio_A": "5",
        "ratio_B": "100",
        "ratio_C": "30",
        "ratio_D": "70",
        "min_inspectors": 2,
    }
    bad = client.post("/supervision/plans/new/", dict(form, ratio_B="120"))
    assert bad.status_code == 200 and "bad_ratio" in bad.content.decode()
    r = client.post("/supervision/plans/new/", form)
    assert r.status_code == 302
    from qualitycity.supervision.models import InspectionPlan

    plan = InspectionPlan.objects.get(name="联合")
    assert dict(plan.items.values_list("department__code", "matter")) == {
        "market": "食品经营检查",
        "health": "卫生检查",
    }
    client.post(f"/supervision/plans/{plan.pk}/draw/")
    page = client.get(f"/supervision/plans/{plan.pk}/").content.decode()
    assert plan.draws.get().seed in page
    # all 39 subjects are class B (no evaluation run): each visited once by both departments
    assert InspectionTask.objects.filter(plan=plan).count() == 39
    r = client.post(f"/supervision/plans/{plan.pk}/draw/")  # no reason: refused, nothing drawn
    assert plan.draws.count() == 1
