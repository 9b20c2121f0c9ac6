"""One user journey in a real browser: log in, search a subject by two characters, open its file.

Playwright drives Debian's Chromium (``apt-get install chromium``) against a live server. Where
no browser is installed the test is skipped with that message.
"""

from __future__ import annotations

import pytest

from qualitycity.core.models import Role

from ..conftest import PASSWORD
from ..portal.data import make_city

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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
