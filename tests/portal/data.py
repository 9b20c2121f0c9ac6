"""A few subjects with public and non-public records, for the portal and browser tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from qualitycity.core import context
from qualitycity.core.models import Department
from qualitycity.records.models import Record, SourceFile
from qualitycity.subjects.models import Subject
from qualitycity.subjects.services import subject_register_one

from ..subjects.factories import resident_id, uscc


@dataclass
class City:
    brewery: Subject
    fisher: Subject
    person: Subject
    public_record: Record
    hidden_record: Record
    person_record: Record


def _file(dept: Department, dataset: str) -> SourceFile:
    source = SourceFile(
        sha256=f"{dataset:0<64}"[:64],
        department=dept,
        dataset=dataset,
        original_name=f"{dept.code}__{dataset}.csv",
        stored_path=f"test/{dataset}.csv",
        size=100,
        channel=SourceFile.Channel.CLI,
        status=SourceFile.Status.PROCESSED,
    )
    source.save()
    return source


def _record(subject, source, n, *, dataset, category, polarity, is_public, data) -> Record:
    return Record.objects.create(
        dataset=dataset,
        department=source.department,
        subject=subject,
        source_record_id=f"{dataset}-{n}",
        category=category,
        polarity=polarity,
        severity=1 if polarity == "negative" else 0,
        decision_date=dt.date(2024, 3, n),
        is_public=is_public,
        data=data,
        source_file=source,
        row_number=n + 1,
        submitted_at=timezone.now(),
    )


def make_city() -> City:
    with context.acting_as(source="cli"):
        brewery = subject_register_one(
            code=uscc(1), name="青岛海风啤酒有限公司", former_names=["青岛老港啤酒厂"]
        )
        fisher = subject_register_one(code=uscc(2), name="青岛蓝湾渔业合作社")
        person = subject_register_one(code=resident_id(7), name="张海风")
    market = Department.objects.get(code="market")
    tax = Department.objects.get(code="tax")
    penalties = _file(market, "admin_penalty")
    ratings = _file(tax, "tax_rating")
    public_record = _record(
        brewery,
        penalties,
        1,
        dataset="admin_penalty",
        category="penalty",
        polarity="negative",
        is_public=True,
        data={
            "subject_name": brewery.name,
            "subject_code": brewery.code,
            "legal_representative": "李大海",
            "decision_no": "青市监罚〔2024〕17号",
            "violation_type": "产品质量违法",
            "facts": "生产销售不合格啤酒",
            "legal_basis": "《产品质量法》第四十九条",
            "penalty_category": "fine",
            "fine_amount": "2.5",
            "decision_date": "2024-03-01",
            "authority": "青岛市市场监督管理局",
            "authority_code": "11370200MB28363970",
        },
    )
    hidden_record = _record(
        brewery,
        ratings,
        2,
        dataset="tax_rating",
        category="evaluation",
        polarity="negative",
        is_public=False,
        data={
            "subject_name": brewery.name,
            "subject_code": brewery.code,
            "grade": "D",
            "year": 2023,
            "rating_id": "SECRET-RATING-42",
        },
    )
    person_record = _record(
        person,
        penalties,
        3,
        dataset="admin_penalty",
        category="penalty",
        polarity="negative",
        is_public=True,
        data={
            "subject_name": person.name,
            "subject_code": person.code,
            "decision_no": "青市监罚〔2024〕18号",
            "violation_type": "无证经营",
            "facts": "无照经营海鲜",
            "legal_basis": "《无证无照经营查处办法》",
            "penalty_category": "warning",
            "decision_date": "2024-03-03",
            "authority": "青岛市市场监督管理局",
            "authority_code": "11370200MB28363970",
        },
    )
    return City(brewery, fisher, person, public_record, hidden_record, person_record)
