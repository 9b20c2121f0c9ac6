"""A small city for the supervision tests: 40 enterprises (one a natural person), inspectors
of market and health, an enterprise user, officers and inspector users."""

from __future__ import annotations

import pytest

from qualitycity.core.models import Department, Role
from qualitycity.subjects.models import EnterpriseBinding, Subject
from qualitycity.subjects.services import subjects_register
from qualitycity.supervision import services
from tests.subjects.factories import legal_row, person_row


@pytest.fixture
def city(db) -> list[Subject]:
    rows = [
        legal_row(n, f"青岛监管{n}号有限公司", district="370202" if n % 2 else "370203")
        for n in range(1, 40)
    ]
    rows.append(person_row(40, "李四光"))
    subjects_register(rows=rows, department=Department.objects.get(code="market"), source_file=None)
    return list(Subject.objects.filter(kind="legal").order_by("id"))


@pytest.fixture
def inspectors(db) -> dict[str, list]:
    out: dict[str, list] = {"market": [], "health": []}
    for dept, n in (("market", 6), ("health", 4)):
        for k in range(n):
            out[dept].append(
                services.inspector_create(
                    actor=None,
                    badge_no=f"{dept[:2].upper()}{k:03d}",
                    name=f"检查员{dept}{k}",
                    department=Department.objects.get(code=dept),
                    qualifications=["food"] if k % 2 == 0 else ["food", "equipment"],
                    district="370202" if k < 2 else "370211",
                )
            )
    return out


@pytest.fixture
def joint_plan(city, inspectors):
    return services.plan_create(
        actor=None,
        name="2026年市场监管与卫生联合抽查",
        items=[
            {"department": "market", "matter": "食品经营许可事项检查"},
            {"department": "health", "matter": "公共场所卫生检查"},
        ],
        ratios={"A": 10, "B": 25, "C": 50, "D": 100},
    )


@pytest.fixture
def enterprise(db, city, make_user):
    user = make_user("ent1", role=Role.ENTERPRISE)
    EnterpriseBinding.objects.create(user=user, subject=city[0])
    return user
