"""The seed plan is loaded after migrate in every test database; these fixtures add officers
and the quality office, and helpers for report flows."""

from __future__ import annotations

import pytest

from qualitycity.core.models import Role
from qualitycity.plan.models import Plan


@pytest.fixture
def plan(db) -> Plan:
    return Plan.objects.get(code="qingdao-2018")


@pytest.fixture
def office(make_user):
    return make_user("office", Role.QUALITY_OFFICE)


@pytest.fixture
def market_officer(make_user):
    return make_user("market-officer", Role.DATA_OFFICER, "market")


@pytest.fixture
def agri_officer(make_user):
    return make_user("agri-officer", Role.DATA_OFFICER, "agriculture")
