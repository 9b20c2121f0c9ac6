"""The objection journey in a real browser: the enterprise objects to its published entry with
an evidence file, the owning department upholds the objection, and the entry leaves the public
list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from qualitycity.lists.models import Objection
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


def test_enterprise_objects_in_the_browser_and_the_court_upholds(
    live_server, browser_page, city, officers, published, enterprise_user, tmp_path
):
    page, base = browser_page, live_server.url
    entry = published("court_dishonest", city["a"], on=timezone.localdate() - dt.timedelta(days=3))
    user = enterprise_user(city["a"])
    public = page.goto(f"{base}/public/lists/court_dishonest/")
    assert public.status == 200 and city["a"].name in page.content()

    # The enterprise files an objection with a file from its disk.
    log_in(page, base, user.username)
    page.goto(f"{base}/lists/entries/{entry.pk}/")
    form = page.locator("form#act-object")
    form.locator("textarea, input[type=text]").first.fill("判决已于上月履行完毕")
    proof = tmp_path / "履行证明.pdf"
    proof.write_bytes(b"%PDF-1.4 receipt of payment")
    form.locator("input[type=file]").set_input_files(str(proof))
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    page.locator(".badge.under-objection").first.wait_for()
    objection = Objection.objects.get(entry=entry)
    assert objection.status == "open" and objection.evidence[0]["name"] == "履行证明.pdf"
    assert "履行证明.pdf" in page.content()

    # The court's officer decides it on the entry's page.
    log_in(page, base, officers["court"].username)
    page.goto(f"{base}/lists/entries/{entry.pk}/")
    decide = page.locator(f"#objection-{objection.pk} form").first
    choice = decide.locator(f"[name='objection-{objection.pk}-decision']")
    if choice.first.evaluate("e => e.tagName") == "SELECT":
        choice.first.select_option("uphold")
    else:
        decide.locator(f"[name='objection-{objection.pk}-decision'][value='uphold']").check()
    decide.locator(f"[name='objection-{objection.pk}-reason']").fill("已提交履行证明，撤销列入")
    decide.locator("button[type=submit]").click()
    page.wait_for_load_state()

    objection.refresh_from_db()
    entry.refresh_from_db()
    assert objection.status == "upheld" and entry.state == "removed"
    page.goto(f"{base}/public/lists/court_dishonest/")
    assert city["a"].name not in page.content()
