"""Storing ingested records in bulk: parents checked once a batch instead of row by row."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from qualitycity.core.models import Department
from qualitycity.records.ingest.engine import (
    adapt_datetime,
    foreign_keys_checked_by_batch,
    insert_records,
)
from qualitycity.records.models import Record, SourceFile
from qualitycity.subjects.models import Subject


def _foreign_keys_on() -> bool:
    with connection.cursor() as cur:
        cur.execute("PRAGMA foreign_keys")
        return bool(cur.fetchone()[0])


def _row(subject_id: int, sf: SourceFile, n: int) -> tuple:
    return (
        "admin_penalty",
        sf.department_id,
        subject_id,
        f"R{n}",
        "penalty",
        "negative",
        2,
        "2024-03-01",
        True,
        1,
        f'{{"decision_no": "R{n}"}}',
        sf.pk,
        n + 1,
        adapt_datetime(timezone.now()),
    )


@pytest.fixture
def submission(register_subjects) -> tuple[list[int], SourceFile]:
    codes = register_subjects({1: "青岛甲机械有限公司", 2: "青岛乙食品有限公司"})
    ids = list(Subject.objects.filter(code__in=codes).values_list("id", flat=True))
    sf = SourceFile.objects.create(
        department=Department.objects.get(code="market"),
        dataset="admin_penalty",
        sha256="0" * 64,
        size=1,
        received_at=timezone.now(),
    )
    return ids, sf


@pytest.mark.django_db(transaction=True)
def test_a_batch_with_a_missing_subject_is_refused_whole(submission):
    ids, sf = submission
    missing = max(ids) + 1000
    rows = [_row(ids[0], sf, 1), _row(missing, sf, 2), _row(ids[1], sf, 3)]
    sqlite = connection.vendor == "sqlite"
    # on SQLite our batch check names the table and the id; PostgreSQL checks each row itself
    message = f"subjects_subject has no id \\[{missing}\\]" if sqlite else "foreign key"
    with (
        pytest.raises(IntegrityError, match=message),
        foreign_keys_checked_by_batch() as by_batch,
        transaction.atomic(),
    ):
        insert_records(rows, check_parents=by_batch)
    assert not Record.objects.exists()
    if sqlite:
        assert _foreign_keys_on()  # the per-row checks are back after the write


@pytest.mark.django_db(transaction=True)
def test_a_good_batch_is_stored_and_the_row_checks_come_back(submission):
    ids, sf = submission
    with foreign_keys_checked_by_batch() as by_batch, transaction.atomic():
        # SQLite's own checks are off only for this write, and only on SQLite
        assert by_batch == (connection.vendor == "sqlite")
        if by_batch:
            assert not _foreign_keys_on()
        insert_records([_row(i, sf, n) for n, i in enumerate(ids)], check_parents=by_batch)
    assert Record.objects.filter(source_file=sf).count() == 2
    if connection.vendor == "sqlite":
        assert _foreign_keys_on()


@pytest.mark.django_db
def test_inside_a_transaction_the_database_keeps_checking_each_row(submission):
    ids, sf = submission
    with foreign_keys_checked_by_batch() as by_batch:
        assert by_batch is False
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_records([_row(max(ids) + 1000, sf, 1)], check_parents=False)
        # the constraints are deferred to the commit, which a test's transaction never
        # reaches: ask for the check now
        connection.check_constraints(table_names=["records_record"])
