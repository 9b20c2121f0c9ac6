"""The draw: determinism, verification, avoidance, staffing, ratios, joint merge."""

from __future__ import annotations

import zlib

import pytest

from qualitycity.core.errors import Conflict, ValidationFailed
from qualitycity.core.models import Department
from qualitycity.supervision import draw as drawing
from qualitycity.supervision import services
from qualitycity.supervision.models import DrawAttempt, InspectionTask, TaskAssignment

pytestmark = pytest.mark.django_db


def _pool(n=1000):
    subjects = [
        drawing.PoolSubject(i, "ABCD"[i % 4], "370202" if i % 3 else "370203") for i in range(1, n)
    ]
    inspectors = [
        drawing.PoolInspector(i, "market" if i % 2 else "health", "370202", ("food",))
        for i in range(1, 41)
    ]
    params = drawing.Parameters(
        ratios={"A": "5", "B": "10", "C": "30", "D": "70"},
        items=(drawing.Item("market", "food"), drawing.Item("health", "")),
    )
    return subjects, inspectors, params


def test_pure_draw_is_deterministic_and_seed_dependent():
    subjects, inspectors, params = _pool()
    a = drawing.draw(12345, subjects, inspectors, params)
    b = drawing.draw(12345, list(reversed(subjects)), list(reversed(inspectors)), params)
    c = drawing.draw(54321, subjects, inspectors, params)
    assert [(t.subject, t.inspectors) for t in a.tasks] == [
        (t.subject, t.inspectors) for t in b.tasks
    ]
    assert [t.subject for t in a.tasks] != [t.subject for t in c.tasks]
    # floor(n × ratio / 100 + 1/2) per class
    assert a.class_counts == {"A": [249, 12], "B": [250, 25], "C": [250, 75], "D": [250, 175]}
    for t in a.tasks:
        assert len(t.inspectors) == 2 and len(set(t.inspectors)) == 2
        depts = {"market" if i % 2 else "health" for i in t.inspectors}
        assert depts == {"market", "health"}  # one of each department of the joint plan


def test_snapshot_round_trip():
    subjects, inspectors, _ = _pool(50)
    subjects[3] = drawing.PoolSubject(subjects[3].id, "C", "370202", (3, 7))
    inspectors[0] = drawing.PoolInspector(1, "market", "", ("a", "b"), frozenset({4, 9}))
    assert drawing.parse_subjects(drawing.subjects_bytes(subjects)) == sorted(
        subjects, key=lambda s: s.id
    )
    assert drawing.parse_inspectors(drawing.inspectors_bytes(inspectors)) == inspectors


def test_ratio_validation(city, inspectors):
    item = [{"department": "market", "matter": "检查"}]
    for bad in (
        {"A": 101, "B": 1, "C": 1, "D": 1},
        {"A": -1, "B": 1, "C": 1, "D": 1},
        {"A": "x", "B": 1, "C": 1, "D": 1},
        {"A": 1, "B": 1, "C": 1},
    ):
        with pytest.raises(ValidationFailed) as exc:
            services.plan_create(actor=None, name="p", items=item, ratios=bad)
        assert exc.value.code == "bad_ratio"
    with pytest.raises(ValidationFailed, match="class A"):
        services.plan_create(
            actor=None, name="p", items=item, ratios={"A": 150, "B": 1, "C": 1, "D": 1}
        )
    plan = services.plan_create(
        actor=None, name="p", items=item, ratios={"A": "0", "B": "12.5", "C": 100, "D": "100%"}
    )
    assert plan.ratios == {"A": "0", "B": "12.5", "C": "100", "D": "100"}
    with pytest.raises(ValidationFailed) as exc:
        services.plan_create(actor=None, name="p", items=item, min_inspectors=1)
    assert exc.value.code == "too_few_inspectors"


def test_joint_plan_visits_each_subject_once_and_verifies(joint_plan, city):
    attempt = services.plan_draw(plan=joint_plan, actor=None)
    tasks = list(InspectionTask.objects.filter(draw=attempt))
    # all 39 legal subjects are class B by default (no evaluation run): round(39 × 25 %) = 10
    assert attempt.pool_size == 39 and len(tasks) == 10
    assert len({t.subject_id for t in tasks}) == len(tasks)
    for t in tasks:
        depts = set(t.assignments.values_list("inspector__department__code", flat=True))
        assert depts == {"market", "health"} and t.assignments.count() == 2
    v = services.draw_verify(attempt=attempt)
    assert v.ok, v.problems
    # the digest is of the canonical bytes stored
    assert (
        drawing.digest(zlib.decompress(bytes(attempt.subjects_snapshot))) == attempt.subjects_digest
    )


def test_tampered_draw_is_named(joint_plan):
    attempt = services.plan_draw(plan=joint_plan, actor=None)
    a = (
        TaskAssignment.objects.filter(task__draw=attempt)
        .order_by("task__number", "position")
        .first()
    )
    other = (
        TaskAssignment.objects.model.inspector.field.related_model.objects.filter(
            department=a.inspector.department
        )
        .exclude(pk__in=a.task.assignments.values("inspector"))
        .first()
    )
    TaskAssignment.objects.filter(pk=a.pk).update(inspector=other)
    v = services.draw_verify(attempt=attempt)
    assert not v.ok
    p = v.problems[0]
    assert p["kind"] == "task_inspectors" and p["task"] == a.task.number
    assert other.badge_no in p["message"] and a.inspector.badge_no in p["message"]


def test_tampered_pool_snapshot_is_named(joint_plan):
    attempt = services.plan_draw(plan=joint_plan, actor=None)
    data = zlib.decompress(bytes(attempt.subjects_snapshot)).replace(b"\tB\t", b"\tD\t", 1)
    DrawAttempt.objects.filter(pk=attempt.pk).update(subjects_snapshot=zlib.compress(data))
    v = services.draw_verify(attempt=DrawAttempt.objects.get(pk=attempt.pk))
    assert [p["kind"] for p in v.problems] == ["subject_pool_digest"]
    assert "subject pool" in v.problems[0]["message"]


def test_redraw_needs_a_reason_and_is_recorded(joint_plan):
    first = services.plan_draw(plan=joint_plan, actor=None)
    with pytest.raises(ValidationFailed) as exc:
        services.plan_draw(plan=joint_plan, actor=None)
    assert exc.value.code == "reason_required"
    second = services.plan_draw(plan=joint_plan, actor=None, reason="检查员名录更新")
    joint_plan.refresh_from_db()
    assert joint_plan.current_draw == second and second.number == 2
    assert list(joint_plan.draws.values_list("number", "reason")) == [
        (1, ""),
        (2, "检查员名录更新"),
    ]
    assert InspectionTask.objects.filter(draw=first).count() == first.task_count  # kept
    assert services.draw_verify(attempt=first).ok


def test_avoidance_rules(city, inspectors):
    market = inspectors["market"]
    target = city[0]
    # every market inspector but two declares a conflict with the target
    for i in market[2:]:
        services.conflict_declare(actor=None, inspector=i, subject=target, reason="亲属")
    plan = services.plan_create(
        actor=None,
        name="p",
        items=[{"department": "market", "matter": "检查"}],
        ratios={"A": 100, "B": 100, "C": 100, "D": 100},
        avoid_home_district=False,
    )
    attempt = services.plan_draw(plan=plan, actor=None)
    task = InspectionTask.objects.get(draw=attempt, subject=target)
    assert set(task.assignments.values_list("inspector_id", flat=True)) == {
        market[0].pk,
        market[1].pk,
    }
    # home district: market[0] and market[1] live in 370202, the target's district
    plan2 = services.plan_create(
        actor=None,
        name="p2",
        items=[{"department": "market", "matter": "检查"}],
        ratios={"A": 100, "B": 100, "C": 100, "D": 100},
        avoid_home_district=True,
    )
    attempt2 = services.plan_draw(plan=plan2, actor=None)
    t2 = InspectionTask.objects.get(draw=attempt2, subject=target)
    assert t2.status == "unstaffed" and t2.assignments.count() == 0  # never one inspector
    assert "market" in t2.unstaffed_reason
    assert {
        "task": t2.number,
        "subject": target.pk,
        "reason": t2.unstaffed_reason,
    } in attempt2.unstaffed
    for t in InspectionTask.objects.filter(draw=attempt2, status="assigned").select_related(
        "subject"
    ):
        for a in t.assignments.select_related("inspector"):
            assert a.inspector.district != t.subject.district
    assert services.draw_verify(attempt=attempt2).ok


def test_last_inspectors_are_avoided(city, inspectors):
    market = inspectors["market"]
    items = [{"department": "market", "matter": "检查"}]
    all_in = {"A": 100, "B": 100, "C": 100, "D": 100}
    plan = services.plan_create(actor=None, name="p", items=items, ratios=all_in)
    attempt = services.plan_draw(plan=plan, actor=None)
    task = InspectionTask.objects.get(draw=attempt, subject=city[0])
    import datetime as dt

    services.result_enter(
        task=task,
        actor=None,
        outcome="conforming",
        inspected_on=dt.date.today(),
        department=Department.objects.get(code="market"),
    )
    before = set(task.assignments.values_list("inspector_id", flat=True))
    plan2 = services.plan_create(actor=None, name="p2", items=items, ratios=all_in)
    for seed in range(5):
        a2 = services.plan_draw(
            plan=plan2, actor=None, seed=seed, reason="" if seed == 0 else "重抽测试"
        )
        t2 = InspectionTask.objects.get(draw=a2, subject=city[0])
        assert not before & set(t2.assignments.values_list("inspector_id", flat=True))
    assert len(market) == 6


def test_understaffed_tasks_are_named(city, inspectors):
    plan = services.plan_create(
        actor=None,
        name="p",
        items=[{"department": "health", "matter": "检查", "qualification": "equipment"}],
        ratios={"A": 100, "B": 100, "C": 100, "D": 100},
        min_inspectors=3,
    )
    attempt = services.plan_draw(plan=plan, actor=None)
    # health has 2 inspectors qualified for "equipment": no task can get 3
    assert attempt.task_count == 39 and len(attempt.unstaffed) == 39
    assert attempt.unstaffed[0]["reason"] == "only 2 eligible inspector(s), 3 needed"
    assert not TaskAssignment.objects.filter(task__draw=attempt).exists()


def test_redraw_refused_after_results(joint_plan):
    import datetime as dt

    attempt = services.plan_draw(plan=joint_plan, actor=None)
    task = InspectionTask.objects.filter(draw=attempt).first()
    services.result_enter(
        task=task,
        actor=None,
        outcome="conforming",
        inspected_on=dt.date.today(),
        department=Department.objects.get(code="health"),
    )
    with pytest.raises(Conflict):
        services.plan_draw(plan=joint_plan, actor=None, reason="again")
