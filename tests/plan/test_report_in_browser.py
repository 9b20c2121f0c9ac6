"""A quarterly report's round trip in a real browser: the market officer files it with a value
and an evidence file, the quality office returns it with comments, the officer refiles, the
office accepts, and the value joins the target's series."""

from __future__ import annotations

import pytest

from qualitycity.plan.models import ProgressReport, ReportEvent, TargetValue
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
MEASURE = "二(十二)"  # led by market; market reports the SME quality-system target


def log_in(page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/staff/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_load_state()
    assert "/staff/login/" not in page.url, f"{username} could not log in"


def file_report(page, base: str, narrative: str, value: str, evidence=None) -> None:
    page.goto(f"{base}/plan/tasks/{MEASURE}/report/?period=2019Q1")
    page.select_option("select[name=period]", "2019Q1")
    page.select_option("select[name=task_status]", "on_schedule")
    page.fill("textarea[name=narrative]", narrative)
    page.fill("input[name=value_sme_quality_systems]", value)
    if evidence:
        page.set_input_files("input[name=evidence]", str(evidence))
    page.click("form.stacked button[type=submit]")
    page.wait_for_load_state()


def test_officer_files_office_returns_officer_refiles_office_accepts(
    live_server, browser_page, plan, office, market_officer, tmp_path
):
    page, base = browser_page, live_server.url
    minutes = tmp_path / "培训纪要.pdf"
    minutes.write_bytes(b"%PDF-1.4 minutes of the training")

    log_in(page, base, market_officer.username)
    file_report(page, base, "开展中小企业质量管理体系培训。", "120", minutes)
    report = ProgressReport.objects.get(measure__number=MEASURE, period="2019Q1")
    assert report.status == "submitted" and report.evidence[0]["name"] == "培训纪要.pdf"

    # The office lands on the plan's dashboard and returns the report with comments.
    log_in(page, base, office.username)
    assert page.url.rstrip("/").endswith("/plan")
    page.goto(f"{base}/plan/reports/{report.pk}/")
    page.fill("textarea[name=comment]", "请补充参训企业名单")
    page.click("button[name=decision][value=return]")
    page.wait_for_load_state()
    report.refresh_from_db()
    assert report.status == "returned" and report.review_comment == "请补充参训企业名单"

    # The officer sees the comments and refiles from the report's page.
    log_in(page, base, market_officer.username)
    page.goto(f"{base}/plan/reports/{report.pk}/")
    assert "请补充参训企业名单" in page.content()
    page.click("a.button.primary")  # "Refile this report"
    page.wait_for_load_state()
    file_report(page, base, "开展培训，附参训企业名单（120家）。", "120")

    log_in(page, base, office.username)
    page.goto(f"{base}/plan/reports/{report.pk}/")
    page.click("button[name=decision][value=accept]")
    page.wait_for_load_state()
    report.refresh_from_db()
    assert report.status == "accepted"
    kinds = list(report.events.order_by("at", "pk").values_list("kind", flat=True))
    assert kinds == [
        ReportEvent.Kind.SUBMITTED,
        ReportEvent.Kind.RETURNED,
        ReportEvent.Kind.RESUBMITTED,
        ReportEvent.Kind.ACCEPTED,
    ]
    assert TargetValue.objects.filter(target__code="sme_quality_systems", value=120).exists()
