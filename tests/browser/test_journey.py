"""One user journey in a real browser: log in, search a subject by two characters, open its file.

Playwright drives Debian's Chromium (``apt-get install chromium``) against a live server. Where
no browser is installed the test is skipped with that message.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qualitycity.core.models import Role

from ..conftest import PASSWORD
from ..portal.data import make_city

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for candidate in (
        os.environ.get("QUALITYCITY_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture
def browser_page(monkeypatch):
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "No Chromium found: install one with `apt-get install chromium` "
            "(or set QUALITYCITY_CHROMIUM to its path) to run the browser test."
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test around it are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as pw:
        # launch() gives every run a fresh, temporary user-data dir of its own.
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="zh-CN")
            page = context.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


def test_log_in_search_by_two_characters_and_open_credit_file(live_server, make_user, browser_page):
    make_user("qo", Role.QUALITY_OFFICE)
    city = make_city()
    page = browser_page

    # Log in through the form.
    page.goto(f"{live_server.url}/staff/login/")
    page.fill("input[name=username]", "qo")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{live_server.url}/plan/")  # the quality office's top page
    assert page.locator("html").get_attribute("lang") == "zh-hans"

    # Search by a two-character fragment of the name on the staff search page.
    page.click("nav a[href='/subjects/']")
    page.fill("input[name=q]", "海风")
    page.press("input[name=q]", "Enter")
    result = page.locator("table.subject-results a", has_text=city.brewery.name)
    result.wait_for()

    # Open the credit file: the name and the record are shown.
    result.click()
    page.wait_for_load_state()
    page.get_by_role("heading", name=city.brewery.name).first.wait_for()
    body = page.locator("body").inner_text()
    assert city.brewery.code in body
    assert city.public_record.data["decision_no"] in body
