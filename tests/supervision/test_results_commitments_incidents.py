"""Results (department scoping, credit records, publication deadline), commitments and their
breaks, spot checks and re-checks, incident reports (ownership, lateness, triage history)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from qualitycity.core.errors import Conflict, PermissionDenied, ValidationFailed
from qualitycity.core.models import Department, Role
from qualitycity.records.models import Record
from qualitycity.records.selectors import credit_file
from qualitycity.subjects.models import EnterpriseBinding
from qualitycity.supervision import services
from qualitycity.supervision.models import (
    Commitment,
    IncidentEvent,
    IncidentReport,
    InspectionResult,
    InspectionTask,
    Sample,
)

pytestmark = pytest.mark.django_db


def _drawn(plan):
    attempt = services.plan_draw(plan=plan, actor=None)
    return list(InspectionTask.objects.filter(draw=attempt).order_by("number"))


def test_result_by_department_becomes_record_in_credit_file(joint_plan, make_user, inspectors):
    tasks = _drawn(joint_plan)
    task = tasks[0]
    officer = make_user("m1", role=Role.DATA_OFFICER, department="market")
    today = timezone.localdate()
    r = services.result_enter(
        task=task, actor=officer, outcome="rectification_ordered", inspected_on=today
    )
    assert r.department.code == "market" and r.published_on == today and not r.publication_late
    rec = Record.objects.get(pk=r.record_id)
    assert rec.dataset == "inspection_result" and rec.subject_id == task.subject_id
    assert rec.data["outcome"] == "rectification_ordered" and rec.is_public
    cf = credit_file(subject=task.subject, actor=None)
    assert any(rr.dataset == "inspection_result" for g in cf.groups for rr in g.records), (
        "the result appears in the public credit file"
    )
    # the same department again: refused; health's result completes the joint task
    with pytest.raises(Conflict):
        services.result_enter(task=task, actor=officer, outcome="conforming", inspected_on=today)
    task.refresh_from_db()
    assert task.status == "assigned"
    health = make_user("h1", role=Role.DATA_OFFICER, department="health")
    services.result_enter(task=task, actor=health, outcome="conforming", inspected_on=today)
    task.refresh_from_db()
    assert task.status == "done"


def test_result_for_another_departments_task_is_refused(city, inspectors, make_user):
    plan = services.plan_create(
        actor=None,
        name="m",
        items=[{"department": "market", "matter": "检查"}],
        ratios={"A": 100, "B": 100, "C": 100, "D": 100},
    )
    task = _drawn(plan)[0]
    env = make_user("e1", role=Role.DATA_OFFICER, department="environment")
    with pytest.raises(PermissionDenied) as exc:
        services.result_enter(
            task=task, actor=env, outcome="conforming", inspected_on=timezone.localdate()
        )
    assert exc.value.code == "forbidden_department" and exc.value.status == 403
    assert "environment" in exc.value.message
    assert not InspectionResult.objects.exists()


def test_inspector_user_must_be_assigned(joint_plan, make_user, inspectors):
    task = _drawn(joint_plan)[0]
    assigned = task.assignments.filter(inspector__department__code="market").first().inspector
    other = (
        inspectors["market"][0]
        if inspectors["market"][0].pk != assigned.pk
        else inspectors["market"][1]
    )
    u_other = make_user("io", role=Role.INSPECTOR, department="market")
    other.user = u_other
    other.save()
    if task.assignments.filter(inspector=other).exists():
        pytest.skip("both drawn")
    with pytest.raises(PermissionDenied) as exc:
        services.result_enter(
            task=task, actor=u_other, outcome="conforming", inspected_on=timezone.localdate()
        )
    assert exc.value.code == "not_assigned"
    u = make_user("ia", role=Role.INSPECTOR, department="market")
    assigned.user = u
    assigned.save()
    r = services.result_enter(
        task=task, actor=u, outcome="conforming", inspected_on=timezone.localdate()
    )
    assert r.department.code == "market"


def test_late_publication_is_flagged(joint_plan):
    task = _drawn(joint_plan)[0]
    market = Department.objects.get(code="market")
    health = Department.objects.get(code="health")
    long_ago = timezone.localdate() - dt.timedelta(days=60)
    late = services.result_enter(
        task=task, actor=None, outcome="conforming", inspected_on=long_ago, department=market
    )
    assert late.publication_late and late.published_on > late.publish_due
    held = services.result_enter(
        task=task,
        actor=None,
        outcome="conforming",
        inspected_on=long_ago,
        department=health,
        publish=False,
    )
    assert held.record_id is None and not held.publication_late
    assert services.results_flag_overdue() == 1
    held.refresh_from_db()
    assert held.publication_late
    services.result_publish(result=held, actor=None)
    held.refresh_from_db()
    assert held.record_id and held.published_on == timezone.localdate()


def test_unreported_incident_counts_against_credit(joint_plan):
    task = _drawn(joint_plan)[0]
    r = services.result_enter(
        task=task,
        actor=None,
        outcome="penalty_referred",
        inspected_on=timezone.localdate(),
        department=Department.objects.get(code="market"),
        unreported_incident="发现批次产品致人受伤，企业未报告",
    )
    inc = IncidentReport.objects.get(subject=task.subject)
    assert inc.origin == "inspection" and inc.record_id
    rec = Record.objects.get(pk=inc.record_id)
    assert rec.dataset == "unreported_quality_incident" and rec.polarity == "negative"
    assert r.outcome == "penalty_referred"


def test_commitment_signed_then_broken_by_later_penalty(enterprise, city, make_user):
    c = services.commitment_sign(
        actor=enterprise,
        template="licence_application",
        signed_on=timezone.localdate() - dt.timedelta(days=5),
    )
    assert c.subject == city[0] and c.status == "in_force"
    rec = Record.objects.get(pk=c.record_id)
    assert rec.dataset == "credit_commitment" and rec.polarity == "neutral"
    # another subject
    with pytest.raises(PermissionDenied) as exc:
        services.commitment_sign(actor=enterprise, template="public_integrity", subject=city[1])
    assert exc.value.code == "not_your_subject"
    unbound = make_user("ent-x", role=Role.ENTERPRISE)
    with pytest.raises(PermissionDenied):
        services.commitment_sign(actor=unbound, template="public_integrity")
    with pytest.raises(Exception) as exc2:
        services.commitment_sign(actor=enterprise, template="nope")
    assert getattr(exc2.value, "code", "") == "unknown_template"
    assert services.commitments_check() == {"broken": 0, "ended": 0}
    # a penalty of the subject after signing, through ingestion
    services._store_records(
        dataset="admin_penalty",
        department=Department.objects.get(code="market"),
        rows=[
            {
                "subject_name": city[0].name,
                "subject_code": city[0].code,
                "decision_no": "青市监罚〔2026〕1号",
                "violation_type": "虚假宣传",
                "facts": "事实",
                "legal_basis": "依据",
                "penalty_category": "fine",
                "decision_date": timezone.localdate(),
                "authority": "青岛市市场监督管理局",
                "authority_code": "11370200MB28363970",
            }
        ],
        actor=None,
        name="penalty.csv",
    )
    assert services.commitments_check() == {"broken": 1, "ended": 0}
    c.refresh_from_db()
    assert c.status == "broken" and c.broken_on == timezone.localdate()
    rec = Record.objects.get(pk=c.record_id)
    assert rec.polarity == "negative" and rec.data["status"] == "broken" and rec.version == 2
    assert services.commitments_check() == {"broken": 0, "ended": 0}  # idempotent


def test_penalty_before_or_on_the_signing_day_does_not_break(enterprise, city, add_penalty):
    add_penalty(city[0], timezone.localdate() - dt.timedelta(days=3))
    add_penalty(city[0], timezone.localdate())
    add_penalty(city[1], timezone.localdate())  # another subject
    services.commitment_sign(actor=enterprise, template="licence_application")
    assert services.commitments_check()["broken"] == 0
    assert Commitment.objects.get().status == "in_force"


@pytest.fixture
def add_penalty(db):
    n = {"i": 0}

    def add(subject, day):
        n["i"] += 1
        services._store_records(
            dataset="admin_penalty",
            department=Department.objects.get(code="market"),
            rows=[
                {
                    "subject_name": subject.name,
                    "subject_code": subject.code,
                    "decision_no": f"罚{n['i']}",
                    "violation_type": "x",
                    "facts": "f",
                    "legal_basis": "b",
                    "penalty_category": "warning",
                    "decision_date": day,
                    "authority": "青岛市市场监督管理局",
                    "authority_code": "11370200MB28363970",
                }
            ],
            actor=None,
            name=f"p{n['i']}.csv",
        )

    return add


def test_spot_check_failure_rectification_and_recheck(city, make_user):
    officer = make_user("m2", role=Role.DATA_OFFICER, department="market")
    plan = services.spotcheck_plan_create(
        actor=officer, name="2026电动自行车抽查", product_category="电动自行车", risk="high"
    )
    s = services.sample_take(
        actor=officer, plan=plan, subject=city[2], product="电动自行车", batch="B2026"
    )
    with pytest.raises(ValidationFailed) as exc:
        services.sample_result(actor=officer, sample=s, result="fail")
    assert exc.value.code == "failure_details_required"
    s = services.sample_result(
        actor=officer, sample=s, result="fail", failed_items="制动性能", standard="GB 17761-2018"
    )
    assert s.rectification_due == s.result_date + dt.timedelta(days=30)
    rec = Record.objects.get(pk=s.record_id)
    assert rec.dataset == "spot_check_result" and rec.polarity == "negative"
    re = services.recheck_take(actor=officer, sample=s)
    assert re.recheck_of == s and re.sample_no.endswith("R")
    with pytest.raises(Conflict):
        services.recheck_take(actor=officer, sample=s)
    re = services.sample_result(actor=officer, sample=re, result="pass")
    assert Record.objects.get(pk=re.record_id).polarity == "neutral"
    health = make_user("h2", role=Role.DATA_OFFICER, department="health")
    with pytest.raises(PermissionDenied):
        services.sample_take(actor=health, plan=plan, subject=city[2], product="x")
    assert Sample.objects.count() == 2


def test_incident_report_ownership_lateness_and_triage(enterprise, city, make_user):
    now = timezone.now()
    on_time = services.incident_report(
        actor=enterprise,
        product="儿童水杯",
        defect="材料迁移超标",
        discovered_at=now - dt.timedelta(hours=2),
        batch="20261101",
        harm="无",
        scale="300件",
        actions_taken="已下架",
    )
    assert not on_time.late and on_time.subject == city[0]
    late = services.incident_report(
        actor=enterprise,
        product="儿童水杯",
        defect="盖子脱落",
        discovered_at=now - dt.timedelta(days=3),
    )
    assert late.late
    with pytest.raises(PermissionDenied) as exc:
        services.incident_report(
            actor=enterprise, subject=city[5], product="x", defect="y", discovered_at=now
        )
    assert exc.value.code == "not_your_subject"
    health = make_user("h3", role=Role.DATA_OFFICER, department="health")
    with pytest.raises(PermissionDenied):
        services.incident_triage(
            actor=health, report=on_time, risk_level="low", follow_up="x", recall_needed=False
        )
    market = make_user("m3", role=Role.DATA_OFFICER, department="market")
    services.incident_triage(
        actor=market, report=on_time, risk_level="medium", follow_up="责令召回", recall_needed=True
    )
    services.incident_triage(
        actor=market,
        report=on_time,
        risk_level="high",
        follow_up="升级处置",
        recall_needed=True,
        close=True,
    )
    on_time.refresh_from_db()
    assert on_time.status == "closed" and on_time.risk_level == "high"
    kinds = list(IncidentEvent.objects.filter(report=on_time).values_list("kind", flat=True))
    assert kinds == ["reported", "triaged", "triaged", "closed"]
    with pytest.raises(Conflict):
        services.incident_triage(
            actor=market, report=on_time, risk_level="low", follow_up="x", recall_needed=False
        )
    assert EnterpriseBinding.objects.count() == 1


def test_the_worker_flags_unpublished_results_by_itself_each_day(joint_plan, settings):
    from qualitycity.core.models import Job
    from qualitycity.core.schedule import run_due

    task = _drawn(joint_plan)[0]
    long_ago = timezone.localdate() - dt.timedelta(days=60)
    held = services.result_enter(
        task=task,
        actor=None,
        outcome="conforming",
        inspected_on=long_ago,
        department=Department.objects.get(code="health"),
        publish=False,
    )
    settings.QUALITYCITY_DAILY_AT = "00:00"
    started = {r.name: r for r in run_due()}
    job = Job.objects.get(pk=started["supervision_daily"].job_id)
    assert job.status == "succeeded"
    assert job.outcome["results_flagged_late"] == 1
    held.refresh_from_db()
    assert held.publication_late
