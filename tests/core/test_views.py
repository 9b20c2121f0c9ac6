"""The UI shell: sign-in, dashboard per role, jobs restricted by department, change log."""

from __future__ import annotations

import pytest
from django.urls import reverse

from qualitycity.core import context
from qualitycity.core.dashboard import register_panel, unregister_panel
from qualitycity.core.models import Department, Job, ObjectChange, Role

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

STAFF_PAGES = ["core:dashboard", "core:jobs", "core:changes"]


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_login_form_signs_in_and_logout_signs_out(client, make_user):
    make_user("alice", Role.QUALITY_OFFICE)
    page = client.get(reverse("core:login"))
    assert page.status_code == 200
    assert b'name="password"' in page.content
    response = client.post(
        reverse("core:login"), {"username": "alice", "password": PASSWORD}, follow=True
    )
    # The quality office lands on the plan's dashboard, its top page.
    assert response.redirect_chain[-1][0] == reverse("plan:index")
    assert response.context["user"].username == "alice"
    assert f'class="brand" href="{reverse("plan:index")}"' in response.content.decode()
    response = client.post(reverse("core:logout"), follow=True)
    assert not response.context["user"].is_authenticated
    assert client.get(reverse("core:dashboard")).status_code == 302


def test_wrong_password_is_refused(client, make_user):
    make_user("alice")
    response = client.post(reverse("core:login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    assert response.context["form"].non_field_errors()


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_anonymous_is_sent_to_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("core:login"))


@pytest.mark.parametrize(
    ("role", "department"),
    [
        (Role.PLATFORM_ADMIN, None),
        (Role.QUALITY_OFFICE, None),
        (Role.DATA_OFFICER, "tax"),
        (Role.INSPECTOR, "market"),
        (Role.ENTERPRISE, None),
    ],
)
def test_dashboard_renders_for_every_role(client, make_user, role, department):
    user = make_user(f"u-{role}", role, department)
    response = login(client, user).get(reverse("core:dashboard"))
    assert response.status_code == 200
    assert "job_counts" in response.context
    # Recent changes are for the city-wide roles only.
    assert (response.context["recent_changes"] is not None) == user.is_citywide
    # Every pillar of the plan has a place in the navigation, installed or not.
    items = [i for s in response.context["navigation"] for i in s["items"]]
    urls = {i["url"] for i in items}
    assert reverse("core:dashboard") in urls and reverse("portal:home") in urls
    # Pillars whose app is not installed yet are labels without a link.
    assert any(i["url"] is None for i in items)
    assert len(response.context["navigation"]) >= 6


def test_dashboard_shows_registered_panels_by_role(client, make_user, settings):
    from pathlib import Path

    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [Path(__file__).parent / "templates"]}]
    register_panel(
        key="test.hello",
        template="test_panel.html",
        context=lambda request: {"greeting": "hello panel"},
        order=1,
        roles={Role.QUALITY_OFFICE},
    )
    register_panel(key="test.broken", template="test_panel.html", context=lambda request: 1 / 0)
    try:
        qo = make_user("qo", Role.QUALITY_OFFICE)
        officer = make_user("officer", Role.DATA_OFFICER, "tax")
        response = login(client, qo).get(reverse("core:dashboard"))
        keys = [p["key"] for p in response.context["panels"]]
        assert keys.index("test.hello") < keys.index("test.broken")
        broken = next(p for p in response.context["panels"] if p["key"] == "test.broken")
        assert broken["failed"]  # a failing panel is shown as unavailable, not a 500
        assert '<h2 id="test-panel">hello panel</h2>' in response.content.decode()
        client.logout()
        response = login(client, officer).get(reverse("core:dashboard"))
        assert "test.hello" not in [p["key"] for p in response.context["panels"]]
    finally:
        unregister_panel("test.hello")
        unregister_panel("test.broken")


def test_job_pages_are_restricted_by_department(client, make_user):
    tax_officer = make_user("taxo", Role.DATA_OFFICER, "tax")
    market_officer = make_user("marketo", Role.DATA_OFFICER, "market")
    job = Job.objects.create(
        kind="test",
        title="tax file",
        department=Department.objects.get(code="tax"),
        status=Job.Status.SUCCEEDED,
        total=10,
        done=10,
        outcome={"accepted": 9, "rejected": 1, "reasons": {"bad_check": 1}},
    )
    login(client, tax_officer)
    page = client.get(reverse("core:job", args=[job.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "reasons.bad_check" in text and "accepted" in text
    assert "tax file" in client.get(reverse("core:jobs")).content.decode()
    client.logout()
    login(client, market_officer)
    assert client.get(reverse("core:job", args=[job.pk])).status_code == 404
    assert "tax file" not in client.get(reverse("core:jobs")).content.decode()


def test_running_job_polls_with_htmx_until_finished(client, make_user):
    qo = make_user("qo", Role.QUALITY_OFFICE)
    job = Job.objects.create(kind="test", title="big file", status=Job.Status.RUNNING, total=200)
    Job.objects.filter(pk=job.pk).update(done=50)
    from django.utils import timezone

    Job.objects.filter(pk=job.pk).update(started_at=timezone.now() - timezone.timedelta(seconds=10))
    login(client, qo)
    url = reverse("core:job", args=[job.pk])
    page = client.get(url).content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert "25.0%" in page
    partial = client.get(url, HTTP_HX_REQUEST="true")
    assert partial.templates[0].name == "core/_job_progress.html"
    assert "<html" not in partial.content.decode()
    assert "HX-Trigger" not in partial
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, error="ValueError: broken", finished_at=timezone.now()
    )
    partial = client.get(url, HTTP_HX_REQUEST="true")
    body = partial.content.decode()
    assert "every 1s" not in body and "ValueError: broken" in body
    assert "jobFinished" in partial["HX-Trigger"]


def _changed_department(user):
    dept = Department.objects.get(code="tax")
    with context.acting_as(user=user, source="web"):
        dept.name_en = "Tax Service (renamed)"
        dept.save()
    return dept


def test_change_log_visible_to_quality_office(client, make_user):
    admin = make_user("admin", Role.PLATFORM_ADMIN)
    qo = make_user("qo", Role.QUALITY_OFFICE)
    dept = _changed_department(admin)
    login(client, qo)
    url = reverse("core:changes", args=["core", "department", dept.pk])
    page = client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Tax Service (renamed)" in text and "Qingdao Municipal Tax Service" in text
    change = ObjectChange.objects.filter(object_id=str(dept.pk), action="update").first()
    assert str(change.request_id)[:8] in text
    assert "admin" in text
    assert "Tax Service (renamed)" in client.get(reverse("core:changes")).content.decode()


def test_change_log_hidden_from_public_and_other_roles(client, make_user):
    admin = make_user("admin", Role.PLATFORM_ADMIN)
    dept = _changed_department(admin)
    url = reverse("core:changes", args=["core", "department", dept.pk])
    assert client.get(url).status_code == 302  # the public is sent to log in
    login(client, make_user("inspector", Role.INSPECTOR, "market"))
    assert client.get(url).status_code == 403
    assert client.get(reverse("core:changes")).status_code == 403


def test_department_officer_sees_change_log_of_own_department_objects(client, make_user):
    from qualitycity.core.services import apiclient_create

    with context.acting_as(source="cli"):
        tax_client, _ = apiclient_create(
            name="tax-system", department=Department.objects.get(code="tax"), scopes=["*"]
        )
        market_client, _ = apiclient_create(
            name="market-system", department=Department.objects.get(code="market"), scopes=["*"]
        )
    login(client, make_user("taxo", Role.DATA_OFFICER, "tax"))
    own = client.get(reverse("core:changes", args=["core", "apiclient", tax_client.pk]))
    assert own.status_code == 200
    assert "command line" in own.content.decode() or "命令行" in own.content.decode()
    other = client.get(reverse("core:changes", args=["core", "apiclient", market_client.pk]))
    assert other.status_code == 403
    assert client.get(reverse("core:changes", args=["nope", "thing", 1])).status_code == 404


def test_changelog_include_renders_given_changes(make_user):
    from django.template.loader import render_to_string

    admin = make_user("admin", Role.PLATFORM_ADMIN)
    _changed_department(admin)
    html = render_to_string(
        "core/_changelog.html", {"changes": ObjectChange.objects.filter(action="update")}
    )
    assert "Tax Service (renamed)" in html


def test_language_switch_gives_english(client, make_user):
    login(client, make_user("qo", Role.QUALITY_OFFICE))
    default = client.get(reverse("core:dashboard")).content.decode()
    assert 'lang="zh-hans"' in default
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("core:dashboard")}, follow=True
    )
    text = response.content.decode()
    assert 'lang="en"' in text
    assert "Log out" in text and "Dashboard" in text


def test_other_roles_land_on_the_workbench_and_next_is_honoured(client, make_user):
    make_user("olga", Role.DATA_OFFICER, department="market")
    response = client.post(
        reverse("core:login"), {"username": "olga", "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == reverse("core:dashboard")
    client.post(reverse("core:logout"))
    make_user("quinn", Role.QUALITY_OFFICE)
    response = client.post(
        reverse("core:login") + "?next=" + reverse("core:jobs"),
        {"username": "quinn", "password": PASSWORD},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("core:jobs")
