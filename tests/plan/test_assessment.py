"""The annual assessment (configurable scheme, ranked, every score traced to its inputs) and
supervision notices (idempotent)."""

from __future__ import annotations

import datetime as dt

import pytest

from qualitycity.core.errors import PermissionDenied, ValidationFailed
from qualitycity.plan import config, selectors, services
from qualitycity.plan.models import SupervisionNotice

D = dt.date


@pytest.fixture
def construction_year(plan, office, make_user):
    """Construction (lead of 二(五), answers for the acceptance rate) in 2019: Q1 on time,
    Q2 late and accepted (98 %), Q3 never filed."""
    officer = make_user("builder", "data_officer", "construction")
    target = plan.targets.get(code="major_project_acceptance")
    services.target_baseline_set(target=target, actor=office, value=95, year=2018)
    measure = plan.measures.get(number="二(五)")
    q1 = services.report_submit(
        actor=officer, measure=measure, period="2019Q1", task_status="on_schedule",
        narrative="按计划推进", on=D(2019, 4, 12),
    )  # fmt: skip
    services.report_accept(report=q1, actor=office, on=D(2019, 4, 20))
    q2 = services.report_submit(
        actor=officer, measure=measure, period="2019Q2", task_status="on_schedule",
        narrative="按计划推进", values={"major_project_acceptance": 98}, on=D(2019, 7, 30),
    )  # fmt: skip
    services.report_accept(report=q2, actor=office, on=D(2019, 8, 2))
    services.reports_flag_overdue(plan=plan, on=D(2019, 12, 31))
    return {"q1": q1, "q2": q2}


def test_assessment_scores_are_traced_to_inputs(plan, office, construction_year):
    a = services.assessment_produce(plan=plan, year=2019, actor=office)
    assert a.as_of == D(2019, 12, 31)
    table = selectors.assessment_table(a)
    row = next(r for r in table if r["department"] == "construction")
    c = row["components"]
    assert c["task_completion"]["score"] == 0.8
    assert c["task_completion"]["inputs"] == [
        {"measure": "二(五)", "report": construction_year["q2"].pk, "period": "2019Q2",
         "task_status": "on_schedule", "score": 0.8}
    ]  # fmt: skip
    outcomes = [(i["period"], i["outcome"]) for i in c["timeliness"]["inputs"]]
    assert outcomes == [("2019Q1", "on_time"), ("2019Q2", "late"), ("2019Q3", "missing")]
    assert c["timeliness"]["score"] == 0.5
    (ach,) = c["target_achievement"]["inputs"]
    assert ach["target"] == "major_project_acceptance" and ach["progress_percent"] == 60.0
    assert ach["score"] == 1.0  # ahead of the straight line from baseline to target
    assert row["score"] == pytest.approx(100 * (0.4 * 0.8 + 0.3 * 0.5 + 0.3 * 1.0))
    assert row["rank"] == 1
    assert [r["rank"] for r in table] == list(range(1, len(table) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(table, table[1:], strict=False))
    # Re-running replaces the table, it does not add a second one.
    again = services.assessment_produce(plan=plan, year=2019, actor=office)
    assert again.pk == a.pk and again.scores.count() == len(table)


def test_scheme_is_configurable_and_checked(settings, tmp_path):
    (tmp_path / "plan").mkdir()
    settings.HOME = tmp_path
    (tmp_path / "plan" / "assessment.yaml").write_text(
        "weights:\n  task_completion: 1\n  timeliness: 0\n  target_achievment: 1\n"
    )
    with pytest.raises(ValidationFailed) as exc:
        config.assessment_scheme()
    assert "assessment.yaml:4: unknown component 'target_achievment'" in exc.value.message


def test_only_the_office_assesses(plan, market_officer):
    with pytest.raises(PermissionDenied):
        services.assessment_produce(plan=plan, year=2019, actor=market_officer)


def test_notices_for_lagging_tasks_targets_and_missing_reports(plan, office, agri_officer):
    r = services.report_submit(
        actor=agri_officer, measure=plan.measures.get(number="二(四)"), period="2019Q1",
        task_status="delayed", narrative="农药追溯平台建设滞后", on=D(2019, 4, 10),
    )  # fmt: skip
    services.report_accept(report=r, actor=office)
    services.reports_flag_overdue(plan=plan, on=D(2019, 12, 31))
    made = services.notices_generate(plan=plan, actor=office, on=D(2019, 12, 31))["issued"]
    assert made > 0
    assert services.notices_generate(plan=plan, actor=office, on=D(2019, 12, 31))["issued"] == 0
    lagging = SupervisionNotice.objects.get(kind="lagging_task")
    assert lagging.department.code == "agriculture" and lagging.measure.number == "二(四)"
    missing = SupervisionNotice.objects.filter(kind="missing_reports", measure__number="二(五)")
    assert missing.get().evidence["periods"] == ["2019Q1", "2019Q2", "2019Q3"]
    target_notice = SupervisionNotice.objects.get(
        kind="lagging_target", target__code="valid_trademarks"
    )
    assert target_notice.department.code == "ip"
    # Scoping: the agriculture officer sees the agriculture notices only.
    seen = selectors.notice_list(user=agri_officer, plan=plan)
    assert {n.department.code for n in seen} == {"agriculture"}
    services.notice_respond(notice=lagging, actor=agri_officer, response="已制定整改计划")
    with pytest.raises(PermissionDenied):
        services.notice_respond(notice=target_notice, actor=agri_officer, response="x")
