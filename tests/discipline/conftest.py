"""A small city for the check: a black-listed, a red-listed, a doubly listed and a clean
enterprise, a listed person, and a valid code nobody registered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone

from qualitycity.core.models import Department
from qualitycity.discipline import catalogue as discipline_catalogue
from qualitycity.lists.models import ListEntry
from qualitycity.subjects.models import Subject
from qualitycity.subjects.services import subjects_register
from tests.subjects.factories import legal_row, person_row, uscc

TODAY = dt.date(2026, 11, 2)
PUBLISHED = dt.date(2025, 3, 1)


@pytest.fixture(autouse=True)
def _fresh_catalogue():
    discipline_catalogue.reset()
    yield
    discipline_catalogue.reset()


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    """A fixed today, so the shipped catalogue's dates give the same answer every year."""
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: TODAY)


def make_entry(
    subject: Subject,
    list_code: str,
    *,
    department: str = "market",
    published_on: dt.date = PUBLISHED,
    ends_on: dt.date | None = None,
    state: str = "published",
    ended_on: dt.date | None = None,
) -> ListEntry:
    return ListEntry.objects.create(
        list_code=list_code,
        subject=subject,
        department=Department.objects.get(code=department),
        state=state,
        origin="manual",
        reason="测试用列入事由",
        legal_basis="测试依据",
        proposed_at=timezone.now(),
        published_on=published_on,
        publication_ends_on=ends_on,
        ended_on=ended_on,
    )


@pytest.fixture
def city(db) -> dict[str, str]:
    rows = [
        legal_row(1, "青岛失信食品有限公司"),
        legal_row(2, "青岛守信纳税有限公司"),
        legal_row(3, "青岛清白机械有限公司"),
        legal_row(4, "青岛红黑兼有贸易有限公司"),
        person_row(5, "张三"),
    ]
    subjects_register(rows=rows, department=Department.objects.get(code="market"), source_file=None)
    s = {r["code"]: Subject.objects.get(code=r["code"]) for r in rows}
    black, red, clean, both, person = (r["code"] for r in rows)
    make_entry(s[black], "food_drug_serious", ends_on=dt.date(2028, 3, 1))
    make_entry(s[red], "tax_a", department="tax", ends_on=dt.date(2027, 3, 1))
    make_entry(s[both], "tax_a", department="tax", ends_on=dt.date(2027, 3, 1))
    make_entry(s[both], "court_dishonest", department="court")
    make_entry(s[person], "court_dishonest", department="court")
    return {
        "black": black,
        "red": red,
        "clean": clean,
        "both": both,
        "person": person,
        "unregistered": uscc(999),
    }


@pytest.fixture
def check_key(api_key) -> Callable[..., str]:
    return lambda department="market", scopes=("discipline.check",): api_key(
        list(scopes), department=department
    )
