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
    assert again.pk == a.pk
    assert again.scores.filter(unit_kind="department").count() == len(table)


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


def test_districts_are_ranked_on_what_their_enterprises_add_to_the_computed_targets(plan, office):
    from qualitycity.core.models import Department
    from qualitycity.plan.models import Trademark
    from qualitycity.subjects.models import Subject
    from qualitycity.subjects.services import subjects_register
    from tests.subjects.factories import legal_row

    rows = [
        legal_row(701, "青岛市南商标有限公司", district="370202"),
        legal_row(702, "青岛市北商标有限公司", district="370203"),
    ]
    subjects_register(rows=rows, department=Department.objects.get(code="market"), source_file=None)
    shinan, shibei = (Subject.objects.get(code=r["code"]) for r in rows)

    def mark(number: str, owner: Subject, registered: dt.date) -> Trademark:
        tm = Trademark.objects.create(
            registration_number=number, mark=number, nice_class=29, owner_name=owner.name,
            status="registered", registered_on=registered, valid_until=D(2029, 1, 1),
        )  # fmt: skip
        tm.subjects.set([owner])
        return tm

    gained = [mark(f"60{i}", shinan, D(2019, 3, 1 + i)) for i in range(4)]
    mark("700", shinan, D(2017, 5, 1))  # held before the year: not a gain
    north = mark("701", shibei, D(2019, 6, 1))
    a = services.assessment_produce(plan=plan, year=2019, actor=office)
    table = {r["district"]: r for r in selectors.assessment_table(a, "district")}
    first, second = table["370202"], table["370203"]
    assert first["rank"] == 1 and first["score"] == 100.0
    (inputs,) = first["components"]["valid_trademarks"]["inputs"]
    assert inputs["gained"] == 4 and inputs["best_gain"] == 4
    assert inputs["items"] == sorted(t.pk for t in gained)  # the items behind the number
    assert second["components"]["valid_trademarks"]["score"] == 0.25
    assert second["components"]["valid_trademarks"]["inputs"][0]["items"] == [north.pk]
    assert second["score"] == 25.0  # the only metric any district gained in
    assert set(first["components"]) == {"valid_trademarks"}
    # A district with no enterprise gaining anything is ranked too, with 0.
    assert table["370212"]["score"] == 0.0 and table["370212"]["rank"] > second["rank"]
    # The API serves both tables.
    from django.test import Client

    client = Client()
    client.force_login(office)
    body = client.get("/api/v1/plan/assessment/2019").json()
    assert {r["district"] for r in body["districts"]} >= {"370202", "370203"}
    page = client.get("/plan/assessment/2019/").content.decode()
    assert "市南区" in page and "区市" in page


def test_an_unknown_district_metric_is_refused_with_its_line(settings, tmp_path):
    (tmp_path / "plan").mkdir()
    settings.HOME = tmp_path
    (tmp_path / "plan" / "assessment.yaml").write_text(
        "weights:\n  task_completion: 1\n  timeliness: 1\n  target_achievement: 1\n"
        "task_status_scores: {completed: 1, on_schedule: 1, delayed: 0, not_started: 0}\n"
        "timeliness_scores: {on_time: 1, late: 0, missing: 0}\n"
        "district_metrics:\n  valid_trademark: 1\n"
    )
    with pytest.raises(ValidationFailed) as exc:
        config.assessment_scheme()
    assert "assessment.yaml:8: unknown metric 'valid_trademark'" in exc.value.message
