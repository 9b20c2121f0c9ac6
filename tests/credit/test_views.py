"""Credit pages: who may look and who may start a run, the run page's movement, the scorecards,
the dashboard panel and the class-and-why card of a credit file (never for enterprise users)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from qualitycity.core.jobs import job_create
from qualitycity.core.models import Department, Job, Role
from qualitycity.credit import services
from qualitycity.credit.models import EvaluationRun
from qualitycity.subjects.models import EnterpriseBinding, Subject
from qualitycity.subjects.services import subjects_register
from tests.conftest import PASSWORD
from tests.records.factories_ui import make_record
from tests.subjects.factories import legal_row, person_row

# The duckdb engine reads the database through its own connection: the data must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

PAGES = ["/credit/", "/credit/scorecards/"]


def login(client: Client, make_user, username: str, role: str, department: str | None = None):
    user = make_user(username, role, department)
    assert client.login(username=username, password=PASSWORD)
    return user


def _days_ago(n: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=n)


@pytest.fixture
def city(db) -> dict[str, Subject]:
    """A penalised enterprise (B), a listed judgment debtor (D by override), a person."""
    rows = [
        legal_row(1, "青岛海晟机械有限公司", registered_on=dt.date(2015, 6, 1)),
        legal_row(2, "青岛欠债贸易有限公司", registered_on=dt.date(2012, 3, 1)),
        person_row(3, "张三丰"),
    ]
    subjects_register(rows=rows, department=Department.objects.get(code="market"), source_file=None)
    penalised = Subject.objects.get(code=rows[0]["code"])
    debtor = Subject.objects.get(code=rows[1]["code"])
    make_record(
        subject=penalised,
        dataset="admin_penalty",
        decision_date=_days_ago(30),
        record_id="PEN-RECENT",
    )
    make_record(
        subject=debtor,
        dataset="court_enforcement",
        department="court",
        decision_date=_days_ago(100),
        record_id="COURT-LISTED",
        data={"status": "listed"},
    )
    return {
        "penalised": penalised,
        "debtor": debtor,
        "person": Subject.objects.get(kind=Subject.Kind.PERSON),
    }


# --- who may look, who may start ----------------------------------------------------------------


@pytest.mark.parametrize("url", [*PAGES, "/credit/runs/1/", f"/credit/jobs/{uuid.uuid4()}/"])
def test_anonymous_is_sent_to_login(client: Client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("url", PAGES)
def test_enterprise_users_may_not_see_credit_pages(client: Client, make_user, url):
    login(client, make_user, "ent", Role.ENTERPRISE)
    assert client.get(url).status_code == 403


def test_inspector_sees_runs_but_may_not_start_one(client: Client, make_user, city):
    run = services.evaluate(engine="duckdb")
    login(client, make_user, "insp", Role.INSPECTOR, "market")
    page = client.get("/credit/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/credit/runs/{run.pk}/" in html
    assert "开始评价" not in html  # no form
    response = client.post("/credit/", {"engine": "duckdb", "as_of": str(timezone.localdate())})
    assert response.status_code == 403
    assert EvaluationRun.objects.count() == 1
    assert client.get(f"/credit/runs/{run.pk}/").status_code == 200


def test_a_future_as_of_date_is_a_form_error(client: Client, make_user, city):
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post("/credit/", {"engine": "duckdb", "as_of": tomorrow.isoformat()})
    assert response.status_code == 200
    html = response.content.decode()
    assert f"评价基准日 {tomorrow.isoformat()} 晚于今天" in html
    assert response.context["form"].errors["as_of"]
    assert not Job.objects.exists() and not EvaluationRun.objects.exists()


def test_an_empty_registry_is_a_form_error(client: Client, make_user):
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    response = client.post("/credit/", {"engine": "duckdb", "as_of": str(timezone.localdate())})
    assert response.status_code == 200
    assert "主体名录为空" in response.content.decode()
    assert not Job.objects.exists()


def test_an_unavailable_engine_is_a_form_error(client: Client, make_user, city, monkeypatch):
    from qualitycity.credit import engines

    def unavailable(name: str) -> None:
        raise engines.EngineUnavailable("The spark engine needs Java 17 (java is not on PATH).")

    monkeypatch.setattr(engines, "check_available", unavailable)
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    response = client.post("/credit/", {"engine": "spark", "as_of": str(timezone.localdate())})
    assert response.status_code == 200
    assert "该计算引擎在本系统无法运行" in response.content.decode()
    assert response.context["form"].errors["engine"]
    assert not Job.objects.exists()


def test_starting_a_run_leads_to_its_job_page_and_the_run(client: Client, make_user, city):
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    form = client.get("/credit/")
    assert "开始评价" in form.content.decode()
    assert form.context["form"]["as_of"].value() == timezone.localdate()
    response = client.post("/credit/", {"engine": "duckdb", "as_of": str(_days_ago(0))})
    assert response.status_code == 302
    job = Job.objects.get(kind="evaluate")
    assert response["Location"] == f"/credit/jobs/{job.pk}/"
    run = EvaluationRun.objects.get()
    assert run.status == EvaluationRun.Status.DONE and run.job_id == job.pk

    page = client.get(response["Location"])  # the test backend ran the job at once
    html = page.content.decode()
    assert page.status_code == 200
    assert f"/credit/runs/{run.pk}/" in html
    assert "hx-get" not in html  # finished: no more polling
    assert "已评价 2 个主体" in html

    partial = client.get(f"/credit/jobs/{job.pk}/progress/")
    assert partial.status_code == 200 and partial["HX-Trigger"] == "jobFinished"


def test_job_page_polls_while_the_job_runs(client: Client, make_user):
    user = login(client, make_user, "qo", Role.QUALITY_OFFICE)
    job = job_create(kind="evaluate", title="t", params={"as_of": "2026-01-05"}, user=user)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, total=100, done=30)
    html = client.get(f"/credit/jobs/{job.pk}/").content.decode()
    assert f'hx-get="/credit/jobs/{job.pk}/progress/"' in html
    assert "正在计算分类" in html and "30%" in html


def test_the_job_page_is_only_for_evaluations(client: Client, make_user):
    user = login(client, make_user, "qo", Role.QUALITY_OFFICE)
    job = job_create(kind="ingest", title="t", params={}, user=user)
    assert client.get(f"/credit/jobs/{job.pk}/").status_code == 404


# --- the run page -------------------------------------------------------------------------------


def test_run_page_shows_distribution_and_who_moved(client: Client, make_user, city):
    first = services.evaluate(engine="duckdb")
    # A tax grade D (−15) sends the penalised enterprise from B (76) down to C (61).
    make_record(
        subject=city["penalised"],
        dataset="tax_rating",
        department="tax",
        decision_date=_days_ago(10),
        record_id="TAX-D",
        data={"grade": "D"},
    )
    second = services.evaluate(engine="duckdb")
    assert second.previous_run_id == first.pk
    login(client, make_user, "insp", Role.INSPECTOR, "market")
    response = client.get(f"/credit/runs/{second.pk}/")
    assert response.status_code == 200
    html = response.content.decode()

    overall = response.context["comparison"]["overall"]
    assert (overall["up"], overall["down"], overall["same"], overall["new"]) == (0, 1, 1, 0)
    assert "下降（趋向D类）" in html and "上次分类 × 本次分类" in html
    matrix = {
        r["from"]: [c["count"] for c in r["cells"]] for r in response.context["matrix"]["rows"]
    }
    assert matrix["B"] == [0, 0, 1, 0] and matrix["D"] == [0, 0, 0, 1]
    assert '<td class="down">1</td>' in html
    district = response.context["comparison"]["by_district"]
    assert [(d["name"], d["total"], d["down"]) for d in district] == [("市南区", 2, 1)]
    assert "市南区" in html and "制造业" in html
    bars = {b["class"]: b for b in response.context["bars"]}
    assert (bars["C"]["count"], bars["C"]["previous_count"], bars["C"]["change"]) == (1, 0, 1)
    assert f'href="/credit/runs/{first.pk}/"' in html
    assert "dishonest_judgment_debtor" in html  # the override and its count


def test_the_first_run_has_nothing_to_compare(client: Client, make_user, city):
    run = services.evaluate(engine="duckdb")
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    html = client.get(f"/credit/runs/{run.pk}/").content.decode()
    assert "这是第一次完成的评价" in html
    assert "上次分类 × 本次分类" not in html


def test_a_failed_run_shows_its_error(client: Client, make_user):
    run = EvaluationRun.objects.create(
        engine="duckdb",
        as_of=timezone.localdate(),
        status=EvaluationRun.Status.FAILED,
        error="EngineUnavailable: The spark engine needs Java 17.",
    )
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    html = client.get(f"/credit/runs/{run.pk}/").content.decode()
    assert "本批次评价失败" in html and "needs Java 17" in html
    assert client.get(f"/credit/runs/{run.pk + 1}/").status_code == 404
    listing = client.get("/credit/").content.decode()
    assert "失败" in listing


# --- scorecards -------------------------------------------------------------------------------


def test_scorecards_page_lists_indicators_and_overrides(client: Client, make_user):
    login(client, make_user, "insp", Role.INSPECTOR, "market")
    response = client.get("/credit/scorecards/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "企业信用风险分类评分卡" in html and "2026.1" in html
    assert "一般行政处罚" in html and "penalties_general" in html
    assert "抽查结果：不合格" in html  # a field condition, in the catalogue's words
    assert "列入失信被执行人名单，属严重失信主体" in html  # an override's reason
    assert "国市监信发〔2022〕6号" in html


# --- the dashboard panel ---------------------------------------------------------------------


def test_dashboard_panel_without_a_run(client: Client, make_user):
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    html = client.get("/staff/").content.decode()
    assert "尚无已完成的信用评价" in html and 'href="/credit/"' in html
    other = Client()
    login(other, make_user, "insp", Role.INSPECTOR, "market")
    html = other.get("/staff/").content.decode()
    assert "尚无已完成的信用评价" in html and "发起信用评价" not in html


def test_dashboard_panel_shows_the_latest_run(client: Client, make_user, city):
    services.evaluate(engine="duckdb")
    run = services.evaluate(engine="duckdb")
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    html = client.get("/staff/").content.decode()
    assert f'href="/credit/runs/{run.pk}/"' in html
    assert f"与评价批次 #{run.previous_run_id} 相比：0 个上升" in html


# --- the credit file --------------------------------------------------------------------------


def test_quality_office_sees_the_class_and_why_on_the_credit_file(client: Client, make_user, city):
    run = services.evaluate(engine="duckdb")
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    response = client.get(f"/records/files/{city['penalised'].code}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="risk big class-B"' in html and "B类 · 一般风险" in html
    assert "<strong>76</strong>" in html  # 80 − 4
    assert "一般行政处罚" in html and ">-4<" in html
    # the record behind the indicator links to its row on the same page
    assert 'href="#record-' in html and "PEN-RECENT" in html
    assert f'href="/credit/runs/{run.pk}/"' in html

    debtor = client.get(f"/records/files/{city['debtor'].code}/").content.decode()
    assert "直接判定为 D 类" in debtor and "列入失信被执行人名单" in debtor
    assert "COURT-LISTED" in debtor


def test_a_department_officer_is_not_shown_other_departments_records(
    client: Client, make_user, city
):
    services.evaluate(engine="duckdb")
    login(client, make_user, "market", Role.DATA_OFFICER, "market")
    html = client.get(f"/records/files/{city['debtor'].code}/").content.decode()
    assert "直接判定为 D 类" in html
    assert "COURT-LISTED" not in html  # a court record: not the market's
    assert "另有 1 条其他部门的信息未列出" in html


def test_enterprise_users_never_see_the_class(client: Client, make_user, city):
    services.evaluate(engine="duckdb")
    user = login(client, make_user, "ent", Role.ENTERPRISE)
    EnterpriseBinding.objects.create(user=user, subject=city["penalised"])
    response = client.get(f"/records/files/{city['penalised'].code}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "PEN-RECENT" in html  # its own credit file, records and all
    assert "信用风险分类" not in html and "risk big" not in html and "一般行政处罚" not in html
    # Sections of other apps (the subject's list entries) may show; the class never does.
    assert "credit.class" not in {s["key"] for s in response.context["sections"]}


def test_the_public_portal_never_shows_the_class(client: Client, city):
    services.evaluate(engine="duckdb")
    html = client.get(f"/credit/{city['penalised'].code}/").content.decode()
    assert "信用风险分类" not in html and "risk big" not in html


def test_files_say_why_a_subject_has_no_class(client: Client, make_user, city):
    login(client, make_user, "qo", Role.QUALITY_OFFICE)
    before = client.get(f"/records/files/{city['penalised'].code}/").content.decode()
    assert "尚无已完成的信用评价" in before
    services.evaluate(engine="duckdb")
    person = client.get(f"/records/files/{city['person'].code}/").content.decode()
    assert "自然人不参与分类" in person
