"""Progress reports: submit → return → resubmit → accept, scoping, overdue flags, history."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from qualitycity.core.errors import PermissionDenied, ValidationFailed
from qualitycity.core.models import ObjectChange, Role
from qualitycity.plan import selectors, services
from qualitycity.plan.models import ProgressReport, ReportEvent, TargetValue
from qualitycity.plan.services import IllegalTransition

D = dt.date


def test_report_return_resubmit_accept(plan, office, market_officer, tmp_path, settings):
    measure = plan.measures.get(number="二(十二)")  # led by market; market reports its targets
    evidence = tmp_path / "纪要.pdf"
    evidence.write_bytes(b"%PDF-1.4 minutes of the quarter")
    report = services.report_submit(
        actor=market_officer,
        measure=measure,
        period="2019Q1",
        task_status="on_schedule",
        narrative="开展中小企业质量管理体系培训。",
        values={"sme_quality_systems": 120},
        evidence=[("纪要.pdf", evidence)],
        on=D(2019, 4, 10),
    )
    assert report.status == "submitted" and not report.late
    kept = report.evidence[0]
    assert kept["sha256"] == hashlib.sha256(evidence.read_bytes()).hexdigest()
    assert (settings.FILES_ROOT / kept["path"]).read_bytes() == evidence.read_bytes()
    with pytest.raises(ValidationFailed) as exc:
        bad = tmp_path / "run.exe"
        bad.write_bytes(b"MZ")
        services.report_submit(
            actor=market_officer, measure=measure, period="2019Q2", task_status="on_schedule",
            narrative="x", evidence=[("run.exe", bad)],
        )  # fmt: skip
    assert exc.value.code == "evidence_type"

    services.report_return(report=report, actor=office, comment="请补充培训企业名单")
    report.refresh_from_db()
    assert report.status == "returned"
    with pytest.raises(IllegalTransition):
        services.report_accept(report=report, actor=office)

    report = services.report_submit(
        actor=market_officer,
        measure=measure,
        period="2019Q1",
        task_status="on_schedule",
        narrative="已补充名单。",
        values={"sme_quality_systems": 125},
    )
    assert report.status == "submitted"
    services.report_accept(report=report, actor=office, comment="同意")
    report.refresh_from_db()
    assert report.status == "accepted"
    assert [e.kind for e in report.events.all()] == [
        "submitted",
        "returned",
        "resubmitted",
        "accepted",
    ]
    assert report.events.get(kind="returned").comment == "请补充培训企业名单"
    value = TargetValue.objects.get(target__code="sme_quality_systems")
    assert (value.on, value.value, value.report_id) == (D(2019, 3, 31), 125, report.pk)
    measure.refresh_from_db()
    assert measure.status == "on_schedule"
    # An accepted report is final.
    with pytest.raises(IllegalTransition):
        services.report_submit(
            actor=market_officer, measure=measure, period="2019Q1",
            task_status="completed", narrative="x",
        )  # fmt: skip


def test_officer_of_another_department_is_refused(plan, agri_officer, market_officer, office):
    measure = plan.measures.get(number="二(十二)")  # market only
    with pytest.raises(PermissionDenied) as exc:
        services.report_submit(
            actor=agri_officer, measure=measure, period="2019Q1",
            task_status="on_schedule", narrative="x",
        )  # fmt: skip
    assert exc.value.code == "forbidden_department"
    # An officer may not review, and may not report another department's target value.
    report = services.report_submit(
        actor=agri_officer, measure=plan.measures.get(number="二(四)"), period="2019Q1",
        task_status="on_schedule", narrative="进展顺利",
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        services.report_accept(report=report, actor=agri_officer)
    with pytest.raises(ValidationFailed) as exc:
        services.report_submit(
            actor=market_officer, measure=plan.measures.get(number="二(十一)"), period="2019Q1",
            task_status="on_schedule", narrative="x", values={"valid_trademarks": 5},
        )  # fmt: skip
    assert exc.value.code == "invalid_values"


def test_querysets_are_scoped_to_the_department(plan, agri_officer, market_officer, office):
    for officer, number in ((agri_officer, "二(四)"), (market_officer, "二(二)")):
        services.report_submit(
            actor=officer, measure=plan.measures.get(number=number), period="2019Q2",
            task_status="on_schedule", narrative="x", on=D(2019, 7, 1),
        )  # fmt: skip
    assert [r.department.code for r in selectors.report_list(user=agri_officer, plan=plan)] == [
        "agriculture"
    ]
    assert selectors.report_list(user=office, plan=plan).count() == 2
    reportable = selectors.Measure.objects.restrict(agri_officer, "report").filter(plan=plan)
    assert set(reportable.values_list("number", flat=True)) >= {"二(四)", "三(一)"}
    assert "二(十二)" not in set(reportable.values_list("number", flat=True))


def test_overdue_reports_are_flagged_once_and_filing_marks_late(plan, market_officer):
    # Q1 2019 is due on 15 April (report_due_days: 15): flagged on the 16th, not on the 15th.
    assert services.reports_flag_overdue(plan=plan, on=D(2019, 4, 15))["flagged"] == 0
    result = services.reports_flag_overdue(plan=plan, on=D(2019, 4, 16))
    assert result["flagged"] == 33
    assert services.reports_flag_overdue(plan=plan, on=D(2019, 4, 16))["flagged"] == 0
    flagged = ProgressReport.objects.get(measure__number="二(十二)", period="2019Q1")
    assert flagged.status == "overdue" and flagged.due_on == D(2019, 4, 15)
    assert flagged.events.get().kind == ReportEvent.Kind.FLAGGED_OVERDUE
    report = services.report_submit(
        actor=market_officer, measure=flagged.measure, period="2019Q1",
        task_status="delayed", narrative="迟报", on=D(2019, 5, 2),
    )  # fmt: skip
    assert report.pk == flagged.pk and report.status == "submitted" and report.late


def test_the_worker_flags_overdue_reports_by_itself(plan, settings):
    from zoneinfo import ZoneInfo

    from qualitycity.core.models import Job
    from qualitycity.core.schedule import run_due

    settings.QUALITYCITY_DAILY_AT = "01:00"
    started = {
        r.name: r for r in run_due(dt.datetime(2019, 4, 16, 2, tzinfo=ZoneInfo("Asia/Shanghai")))
    }
    job = Job.objects.get(pk=started["plan_daily"].job_id)
    assert job.status == "succeeded" and job.outcome[plan.code]["flagged"] == 33
    assert ProgressReport.objects.filter(period="2019Q1", status="overdue").count() == 33


def test_confirming_departments_is_a_logged_change(plan, office, department):
    measure = plan.measures.get(number="四(二)")
    assert not measure.departments_confirmed
    services.measure_confirm_departments(
        measure=measure, actor=office, lead=department("market"), cooperating=[department("ip")]
    )
    measure.refresh_from_db()
    assert measure.departments_confirmed and measure.lead_department.code == "market"
    changes = ObjectChange.objects.filter(object_id=str(measure.pk), action="update")
    assert any((c.postchange_data or {}).get("departments_confirmed") is True for c in changes)
    assert any("cooperating_departments" in (c.postchange_data or {}) for c in changes)


def test_only_the_office_confirms(plan, market_officer, make_user):
    with pytest.raises(PermissionDenied):
        services.measure_confirm_departments(measure=plan.measures.first(), actor=market_officer)
    inspector = make_user("insp", Role.INSPECTOR)
    with pytest.raises(PermissionDenied):
        services.measure_confirm_departments(measure=plan.measures.first(), actor=inspector)
