"""A joint "double random" inspection in a real browser: the quality office creates the plan
from the form and draws it, the draw verifies from the command line, the market officer enters
a result, and the result is on the public page and in the subject's credit file."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from qualitycity.core.models import Role
from qualitycity.supervision.models import InspectionPlan, InspectionResult, InspectionTask
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/staff/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_load_state()
    assert "/staff/login/" not in page.url, f"{username} could not log in"


def test_office_plans_and_draws_officer_enters_a_result_public_sees_it(
    live_server, browser_page, city, inspectors, make_user, capsys
):
    page, base = browser_page, live_server.url
    make_user("qo-browser", Role.QUALITY_OFFICE)
    make_user("market-browser", Role.DATA_OFFICER, "market")

    log_in(page, base, "qo-browser")
    page.goto(f"{base}/supervision/plans/new/")
    page.fill("input[name=name]", "联合抽查（浏览器）")
    page.check("input[name=departments][value=market]")
    page.check("input[name=departments][value=health]")
    page.fill("textarea[name=matter]", "market: 食品经营检查\nhealth: 公共场所卫生检查")
    for cls, ratio in zip("ABCD", ("5", "20", "40", "80"), strict=True):
        page.fill(f"input[name=ratio_{cls}]", ratio)
    page.fill("input[name=min_inspectors]", "2")
    page.click("form button[type=submit].primary")
    page.wait_for_load_state()
    plan = InspectionPlan.objects.get(name="联合抽查（浏览器）")
    assert f"/supervision/plans/{plan.pk}/" in page.url

    page.click(f"form[action='/supervision/plans/{plan.pk}/draw/'] button[type=submit]")
    page.wait_for_load_state()
    draw = plan.draws.get()
    assert draw.seed in page.content()
    tasks = InspectionTask.objects.filter(plan=plan).order_by("number")
    # No evaluation run: every subject counts as class B, so 20 % of the 39 are drawn.
    assert tasks.count() == 8

    # The draw reproduces from the command line (exit 0 is returning without SystemExit).
    call_command("inspections", "verify", str(plan.pk))
    assert "reproduced exactly" in capsys.readouterr().out

    # The market officer enters the market result of the first task.
    task = tasks.first()
    log_in(page, base, "market-browser")
    page.goto(f"{base}/supervision/plans/{plan.pk}/tasks/{task.number}/")
    page.select_option("select[name=outcome]", "rectification_ordered")
    page.fill("input[name=inspected_on]", "2026-11-20")
    findings = page.locator("textarea[name=findings]")
    if findings.count():
        findings.fill("冷藏柜温度记录缺失")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    result = InspectionResult.objects.get(task=task, department__code="market")
    assert result.outcome == "rectification_ordered" and result.record_id is not None
    page.goto(f"{base}/records/files/{task.subject.code}/")
    assert result.record.source_record_id in page.content()  # in the staff credit file

    # The public sees it, and it is a record in the subject's public credit file.
    page.context.clear_cookies()
    page.goto(f"{base}/public/inspections/")
    assert task.subject.name in page.content()


def test_enterprise_signs_a_commitment_and_reports_an_incident_the_department_triages(
    live_server, browser_page, enterprise, city, make_user
):
    from django.utils import timezone

    from qualitycity.supervision.models import Commitment, IncidentReport

    page, base = browser_page, live_server.url
    make_user("market-triage", Role.DATA_OFFICER, "market")

    log_in(page, base, enterprise.username)
    page.goto(f"{base}/supervision/commitments/")
    page.click("form.commitment:has(input[value=licence_application]) button[type=submit]")
    page.wait_for_load_state()
    commitment = Commitment.objects.get(subject=city[0])
    assert commitment.status == "in_force" and commitment.record_id is not None

    page.goto(f"{base}/supervision/incidents/")
    page.fill("input[name=product]", "速冻水饺")
    page.fill("input[name=batch]", "20261126-03")
    page.fill("textarea[name=defect]", "部分批次包装破损")
    page.fill("input[name=scale]", "约300箱")
    discovered = timezone.localtime() - timezone.timedelta(hours=3)
    page.fill("input[name=discovered_at]", discovered.strftime("%Y-%m-%dT%H:%M"))
    page.select_option("select[name=department]", "market")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    report = IncidentReport.objects.get(subject=city[0])
    assert report.status == "reported" and not report.late

    log_in(page, base, "market-triage")
    page.goto(f"{base}/supervision/incidents/{report.pk}/")
    page.select_option("select[name=risk_level]", index=1)
    page.fill("textarea[name=follow_up]", "责令下架破损批次并抽样检验")
    page.check("input[name=recall_needed]")
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()
    report.refresh_from_db()
    assert report.status == "triaged" and report.recall_needed
    assert report.events.count() >= 2  # reported, then triaged: the history is kept
