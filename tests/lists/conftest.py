"""A small city for the lists tests: subjects (one a natural person), officers of the owning
departments, enterprise users bound to subjects, and records written straight to the database
(the ingestion pipeline is tested elsewhere)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from qualitycity.core.models import Department, Role, User
from qualitycity.lists import services
from qualitycity.lists.models import ListEntry
from qualitycity.records.catalogue import get_dataset
from qualitycity.records.models import Record, SourceFile
from qualitycity.subjects.models import EnterpriseBinding, Subject
from qualitycity.subjects.services import subjects_register
from tests.subjects.factories import legal_row, person_row

D = dt.date


@pytest.fixture
def city(db) -> dict[str, Subject]:
    """key → subject: ``a``…``e`` enterprises, ``person`` a natural person (张三丰)."""
    rows = [legal_row(n, f"青岛测试{n}号有限公司") for n in range(1, 6)]
    rows.append(person_row(6, "张三丰"))
    subjects_register(rows=rows, department=Department.objects.get(code="market"), source_file=None)
    subjects = {s.code: s for s in Subject.objects.all()}
    keys = ["a", "b", "c", "d", "e", "person"]
    return {k: subjects[r["code"]] for k, r in zip(keys, rows, strict=True)}


@pytest.fixture
def add_record(db) -> Callable[..., Record]:
    """``add_record(subject, dataset, day, data, department=None)`` stores one record."""
    counter = {"n": 0}

    def add(
        subject: Subject,
        dataset: str,
        day: dt.date,
        data: dict[str, Any],
        department: str | None = None,
    ) -> Record:
        ds = get_dataset(dataset)
        dept = Department.objects.get(code=department or ds.departments[0])
        source, _ = SourceFile.objects.get_or_create(
            department=dept,
            dataset=dataset,
            sha256=f"{dept.pk:032d}{len(dataset):032d}",
            defaults={
                "original_name": f"{dataset}.csv",
                "stored_path": "x",
                "size": 0,
                "channel": SourceFile.Channel.CLI,
                "status": SourceFile.Status.PROCESSED,
            },
        )
        counter["n"] += 1
        polarity, severity, public = ds.derive(data)
        return Record.objects.create(
            dataset=dataset,
            department=dept,
            subject=subject,
            source_record_id=f"r{counter['n']}",
            category=ds.category,
            polarity=polarity,
            severity=severity,
            decision_date=day,
            is_public=public,
            data=data,
            source_file=source,
            row_number=counter["n"],
            submitted_at=timezone.now(),
        )

    return add


@pytest.fixture
def officers(make_user) -> dict[str, User]:
    """Data officers of the court, market, tax and customs; an inspector; the quality office."""
    out = {d: make_user(f"officer-{d}", Role.DATA_OFFICER, d) for d in ("court", "market", "tax")}
    out["inspector"] = make_user("inspector", Role.INSPECTOR)
    out["quality"] = make_user("quality", Role.QUALITY_OFFICE)
    return out


@pytest.fixture
def enterprise_user(make_user) -> Callable[[Subject], User]:
    def make(subject: Subject) -> User:
        user = make_user(f"ent-{subject.pk}", Role.ENTERPRISE)
        EnterpriseBinding.objects.create(user=user, subject=subject)
        return User.objects.get(pk=user.pk)

    return make


@pytest.fixture
def published(officers) -> Callable[..., ListEntry]:
    """``published(list_code, subject, on=date)``: propose, notice and publish an entry through
    the services, back-dated so that the publication falls on ``on``."""

    def make(list_code: str, subject: Subject, *, on: dt.date, actor: User | None = None):
        from qualitycity.lists.catalogue import get_list

        actor = actor or officers.get(get_list(list_code).department) or officers["quality"]
        start = on - dt.timedelta(days=30)
        entry = services.entry_propose(
            list_code=list_code, subject=subject, reason="认定理由", actor=actor, on=start
        )
        services.entry_notice(entry=entry, actor=actor, reason="告知", on=start)
        return services.entry_publish(entry=entry, actor=actor, reason="公示", on=on)

    return make
