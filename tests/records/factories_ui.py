"""Small factories for the records UI tests: subjects, submissions, records, quarantined rows.

They write models directly (the ingestion engine has its own tests); codes are valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from typing import Any
from zoneinfo import ZoneInfo

from qualitycity.core.models import Department
from qualitycity.records.models import QuarantinedRow, Record, SourceFile
from qualitycity.subjects.identifiers import (
    USCC_ALPHABET,
    org_code_check_digit,
    resident_id_check_char,
    uscc_check_char,
)
from qualitycity.subjects.models import Subject

SHANGHAI = ZoneInfo("Asia/Shanghai")
_seq = itertools.count(1)


def make_uscc(n: int, division: str = "370202") -> str:
    """A valid enterprise USCC (authority 9, type 1) with a sequence number in the org code."""
    body = f"{n:08d}"
    assert all(c in USCC_ALPHABET for c in body)
    org = body + org_code_check_digit(body)
    first17 = "91" + division + org
    return first17 + uscc_check_char(first17)


def make_resident_id(suffix: str = "123X", division: str = "370202") -> str:
    """A valid resident ID whose last four characters are ``suffix`` (e.g. ``123X``)."""
    start = dt.date(1980, 1, 1)
    for i in range(20000):
        birth = (start + dt.timedelta(days=i)).strftime("%Y%m%d")
        first17 = division + birth + suffix[:3]
        if resident_id_check_char(first17) == suffix[3]:
            return first17 + suffix[3]
    raise AssertionError("no resident ID with that suffix")


def make_subject(
    *,
    code: str | None = None,
    name: str = "青岛海晟机械有限公司",
    kind: str = Subject.Kind.LEGAL,
    subject_type: str | None = None,
    district: str = "370202",
    industry: str = "34",
    legal_representative: str = "王建国",
) -> Subject:
    if code is None:
        code = make_uscc(next(_seq))
    return Subject.objects.create(
        code=code,
        kind=kind,
        name=name,
        subject_type=subject_type
        or ("natural_person" if kind == Subject.Kind.PERSON else "enterprise"),
        district=district,
        industry="" if kind == Subject.Kind.PERSON else industry,
        legal_representative="" if kind == Subject.Kind.PERSON else legal_representative,
        registered_on=dt.date(2015, 6, 1),
    )


def make_source_file(
    *,
    department: str = "market",
    dataset: str = "admin_penalty",
    name: str | None = None,
    rows: int = 0,
    rejected: int = 0,
    reasons: dict[str, int] | None = None,
    **extra: Any,
) -> SourceFile:
    n = next(_seq)
    return SourceFile.objects.create(
        sha256=hashlib.sha256(f"file-{n}".encode()).hexdigest(),
        department=Department.objects.get(code=department),
        dataset=dataset,
        original_name=name or f"{department}__{dataset}-{n}.csv",
        stored_path=f"sources/{n}.csv",
        size=100,
        file_format="csv",
        encoding="utf-8",
        channel=SourceFile.Channel.WEB,
        status=SourceFile.Status.PROCESSED,
        rows=rows,
        accepted=rows - rejected,
        rejected=rejected,
        reasons=reasons or {},
        **extra,
    )


def local(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A moment on a day in the platform's time zone (Asia/Shanghai)."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI)


CATEGORY = {
    "admin_licence": ("licence", "neutral"),
    "admin_penalty": ("penalty", "negative"),
    "inspection_result": ("inspection", "neutral"),
    "honour": ("honour", "positive"),
    "tax_rating": ("evaluation", "neutral"),
}


def make_record(
    *,
    subject: Subject,
    dataset: str = "admin_penalty",
    department: str = "market",
    decision_date: dt.date = dt.date(2024, 5, 6),
    submitted_at: dt.datetime | None = None,
    is_public: bool = True,
    source_file: SourceFile | None = None,
    data: dict[str, Any] | None = None,
    record_id: str | None = None,
) -> Record:
    n = next(_seq)
    category, polarity = CATEGORY.get(dataset, ("administrative", "neutral"))
    sf = source_file or make_source_file(department=department, dataset=dataset)
    return Record.objects.create(
        dataset=dataset,
        department=Department.objects.get(code=department),
        subject=subject,
        source_record_id=record_id or f"R-{n}",
        category=category,
        polarity=polarity,
        severity=1 if polarity == "negative" else 0,
        decision_date=decision_date,
        is_public=is_public,
        data=data
        if data is not None
        else {
            "subject_name": subject.name,
            "subject_code": subject.code,
            "decision_date": decision_date.isoformat(),
        },
        source_file=sf,
        row_number=n,
        submitted_at=submitted_at or local(decision_date + dt.timedelta(days=1)),
    )


def make_quarantined_row(
    *,
    source_file: SourceFile,
    row_number: int = 2,
    raw: dict[str, Any] | None = None,
    reasons: list[dict[str, str]] | None = None,
) -> QuarantinedRow:
    reasons = reasons or [
        {"field": "subject_code", "code": "bad_check", "message": "校验码错误"},
    ]
    return QuarantinedRow.objects.create(
        source_file=source_file,
        row_number=row_number,
        raw=raw
        or {"行政相对人名称": "青岛某某食品有限公司", "统一社会信用代码": "91370202MA3XXXXXX1"},
        reasons=reasons,
        primary_reason=reasons[0]["code"],
        subject_code=(raw or {}).get("统一社会信用代码", "91370202MA3XXXXXX1")[:18],
    )
