"""A small city for the evaluation tests: subjects of every kind and records chosen so that each
indicator, cap, window edge, rounding rule and override of the shipped scorecards is exercised.

``build()`` writes it straight to the database (the ingestion pipeline is tested elsewhere) and
returns the subjects' codes by key. ``AS_OF`` is the evaluation date the expectations assume.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from qualitycity.core.models import Department
from qualitycity.records.catalogue import get_dataset
from qualitycity.records.models import Record, SourceFile
from qualitycity.subjects.models import Subject
from qualitycity.subjects.services import subjects_register
from tests.subjects.factories import legal_row, person_row

AS_OF = dt.date(2026, 6, 30)
D = dt.date

# key → (number, type, registered_on, status)
SUBJECTS: dict[str, tuple[int, str, dt.date | None, str]] = {
    "decaying": (1, "enterprise", D(2015, 1, 1), "active"),
    "debtor": (2, "enterprise", D(2026, 1, 1), "active"),
    "revoked": (3, "enterprise", D(2010, 5, 5), "revoked"),
    "quiet_shop": (4, "individual_business", D(2020, 3, 3), "active"),
    "offender": (5, "enterprise", D(2012, 1, 1), "active"),
    "too_new": (7, "enterprise", D(2026, 8, 1), "active"),
    "cancelled": (8, "enterprise", D(2011, 1, 1), "cancelled"),
    "model": (9, "enterprise", None, "active"),
    "association": (10, "social_organisation", D(2018, 1, 1), "active"),
    "coop": (11, "farmers_coop", D(2025, 12, 31), "active"),
}

# key → [(dataset, decision_date, data)]
RECORDS: dict[str, list[tuple[str, dt.date, dict[str, Any]]]] = {
    "decaying": [
        ("admin_penalty", D(2026, 3, 1), {"penalty_category": "fine", "fine_amount": "2.5"}),
        ("admin_penalty", D(2025, 3, 1), {"penalty_category": "warning"}),
        ("admin_penalty", D(2023, 9, 1), {"penalty_category": "warning"}),
        ("admin_penalty", D(2023, 6, 30), {"penalty_category": "fine", "fine_amount": "50"}),
        ("admin_penalty", D(2026, 7, 15), {"penalty_category": "fine", "fine_amount": "9"}),
        ("tax_rating", D(2026, 4, 1), {"grade": "A"}),
        ("honour", D(2025, 1, 1), {"level": "municipal"}),
        ("admin_licence", D(2026, 2, 1), {}),
    ],
    "debtor": [
        ("court_enforcement", D(2024, 5, 1), {"status": "listed"}),
        ("admin_penalty", D(2026, 6, 1), {"penalty_category": "fine", "fine_amount": "0.05"}),
    ],
    "offender": [
        *[
            ("admin_penalty", D(2026, m, 10), {"penalty_category": "suspend_business"})
            for m in (1, 2, 3, 4)
        ],
        *[("spot_check_result", D(2025, m, 1), {"result": "fail"}) for m in (1, 2, 3, 4)],
        ("spot_check_result", D(2025, 5, 1), {"result": "pass"}),
        ("inspection_result", D(2026, 5, 5), {"outcome": "conforming"}),
    ],
    "cancelled": [("court_enforcement", D(2024, 5, 1), {"status": "listed"})],
    "too_new": [("admin_penalty", D(2026, 6, 1), {"penalty_category": "warning"})],
    "model": [
        ("tax_rating", D(2025, 4, 1), {"grade": "A"}),
        ("customs_aeo", D(2024, 1, 1), {"level": "advanced"}),
        *[("honour", D(2022 + i, 9, 1), {"level": "provincial"}) for i in range(4)],
    ],
    "association": [
        ("admin_penalty", D(2024, 12, 1), {"penalty_category": "warning"}),
        ("inspection_result", D(2026, 1, 2), {"outcome": "not_found"}),
    ],
    "coop": [("admin_penalty", D(2026, 6, 30), {"penalty_category": "warning"})],
}

# Expected (score, class, override) on AS_OF, worked out by hand from the shipped scorecards.
EXPECTED: dict[str, tuple[str, str, str]] = {
    # 80 − 4×(1.0 + 0.6 + 0.3) − 2.5万元/10万元 + 6 (tax A) + 3 (honour); the record decided
    # exactly 36 months before and the one after the as-of date are outside.
    "decaying": ("81.15", "B", ""),
    # 80 − 4 (under a year old) − 4 (penalty) − 0.01 (500 yuan: −0.5 centipoint, away from 0)
    "debtor": ("71.99", "D", "dishonest_judgment_debtor"),
    "revoked": ("80.00", "D", "business_licence_revoked"),
    "quiet_shop": ("80.00", "B", ""),
    # 80 − 30 (4 heavy penalties, capped) − 15 (4 failed spot checks, capped)
    "offender": ("35.00", "D", ""),
    # 80 + 6 + 6 + 9 (4 honours, capped) = 101 → clamped to 100
    "model": ("100.00", "A", ""),
    # organisation card: 80 − 6×0.6 − 4
    "association": ("72.40", "B", ""),
    # registered the day before 6 months … under a year: −4; penalty on the as-of date: −4
    "coop": ("72.00", "B", ""),
}
NOT_EVALUATED = ("too_new", "cancelled", "person")


def build() -> dict[str, str]:
    """Write the city; returns key → subject code (``person`` is a natural person)."""
    market = Department.objects.get(code="market")
    rows = [
        legal_row(
            n, f"测试主体{n:02d}有限公司", subject_type=kind, registered_on=reg, status=status
        )
        for n, kind, reg, status in SUBJECTS.values()
    ]
    rows.append(person_row(6, "张三"))
    subjects_register(rows=rows, department=market, source_file=None)
    codes = {key: rows[i]["code"] for i, key in enumerate(SUBJECTS)}
    codes["person"] = rows[-1]["code"]
    ids = dict(Subject.objects.values_list("code", "id"))
    source = SourceFile.objects.create(
        sha256="0" * 64,
        department=market,
        dataset="admin_penalty",
        original_name="evaluation-fixture.csv",
        stored_path="x",
        size=0,
        channel=SourceFile.Channel.CLI,
        status=SourceFile.Status.PROCESSED,
    )
    now = timezone.now()
    records = []
    person_records = [("admin_penalty", D(2026, 1, 1), {"penalty_category": "fine"})]
    for key, items in [*RECORDS.items(), ("person", person_records)]:
        for i, (dataset, day, data) in enumerate(items):
            ds = get_dataset(dataset)
            data = {k: (Decimal(v) if k == "fine_amount" else v) for k, v in data.items()}
            polarity, severity, public = ds.derive(data)
            records.append(
                Record(
                    dataset=dataset,
                    department=market,
                    subject_id=ids[codes[key]],
                    source_record_id=f"{key}-{i}",
                    category=ds.category,
                    polarity=polarity,
                    severity=severity,
                    decision_date=day,
                    is_public=public,
                    data=data,
                    source_file=source,
                    row_number=len(records) + 1,
                    submitted_at=now,
                )
            )
    Record.objects.bulk_create(records)
    return codes
