"""Timeliness: working days across weekends, public holidays and make-up working days."""

from __future__ import annotations

import datetime as dt

import pytest

from qualitycity.core.models import Role
from qualitycity.records import selectors
from qualitycity.records.workdays import (
    CalendarError,
    WorkCalendar,
    calendar,
    load_calendar,
    working_days_between,
)

from .factories_ui import local, make_record, make_subject

D = dt.date


# --- the calendar ---------------------------------------------------------------------------


def test_weekend_is_skipped():
    # Friday decision; Mon..Fri of the next week are 1..5, the Tuesday after is 7.
    assert working_days_between(D(2024, 3, 1), D(2024, 3, 4)) == 1
    assert working_days_between(D(2024, 3, 1), D(2024, 3, 12)) == 7
    assert working_days_between(D(2024, 3, 1), D(2024, 3, 1)) == 0
    assert working_days_between(D(2024, 3, 5), D(2024, 3, 1)) == 0


def test_national_day_holiday_and_make_up_days():
    # 2024: 1-7 October off; Sunday 29 September and Saturday 12 October are working days.
    cal = calendar()
    assert cal.is_working_day(D(2024, 9, 29))  # Sunday, make-up working day
    assert not cal.is_working_day(D(2024, 10, 2))  # Wednesday, holiday
    assert cal.is_working_day(D(2024, 10, 12))  # Saturday, make-up working day
    assert working_days_between(D(2024, 9, 26), D(2024, 10, 11)) == 7
    assert working_days_between(D(2024, 9, 26), D(2024, 10, 12)) == 8
    assert cal.add_working_days(D(2024, 9, 26), 7) == D(2024, 10, 11)


def test_spring_festival_2025():
    # 28 Jan - 4 Feb 2025 off; 26 Jan (Sun) and 8 Feb (Sat) working days.
    assert calendar().add_working_days(D(2025, 1, 24), 7) == D(2025, 2, 10)
    # Sunday 26 (make-up) and Monday 27 January, then nothing until Wednesday 5 February
    assert working_days_between(D(2025, 1, 24), D(2025, 1, 27)) == 2
    assert working_days_between(D(2025, 1, 24), D(2025, 2, 4)) == 2


def test_outside_the_configured_years_plain_weekdays():
    assert working_days_between(D(1999, 12, 31), D(2000, 1, 7)) == 5
    assert working_days_between(D(2101, 1, 7), D(2101, 1, 14)) == 5
    assert working_days_between(D(1990, 1, 1), D(1990, 1, 8)) == 5


def test_holiday_file_is_valid_and_covers_2019_to_2026():
    cal = load_calendar()
    assert cal.years == tuple(range(2019, 2027))
    assert all(d.weekday() >= 5 for d in cal.workdays)
    assert not cal.holidays & cal.workdays


def test_malformed_holiday_file_fails_loudly(tmp_path):
    bad = tmp_path / "holidays.yaml"
    bad.write_text("years:\n  2024:\n    workdays: [2024-10-08]\n")  # a Tuesday
    with pytest.raises(CalendarError, match="not a weekend day"):
        load_calendar(bad)
    bad.write_text("years:\n  2024:\n    holidays: [2024-13-01]\n")
    with pytest.raises(CalendarError, match="bad date"):
        load_calendar(bad)


def test_calendar_without_holidays_counts_weekdays():
    cal = WorkCalendar.build(set(), set())
    assert cal.working_days_between(D(2024, 9, 26), D(2024, 10, 12)) == 11


# --- the report -----------------------------------------------------------------------------


@pytest.fixture
def late_data(db):
    s = make_subject()
    decision = D(2024, 9, 26)  # Thursday before the National Day holiday
    # on time: 7 working days (11 October), late: the make-up Saturday 12 October
    make_record(
        subject=s,
        dataset="admin_penalty",
        decision_date=decision,
        submitted_at=local(D(2024, 10, 11), 23, 30),
        record_id="ON-TIME",
    )
    make_record(
        subject=s,
        dataset="admin_penalty",
        decision_date=decision,
        submitted_at=local(D(2024, 10, 12), 0, 30),
        record_id="LATE-1",
    )
    # a licence over a plain weekend: Friday decision, 8th working day is Wednesday 13 March
    make_record(
        subject=s,
        dataset="admin_licence",
        decision_date=D(2024, 3, 1),
        submitted_at=local(D(2024, 3, 12)),
        record_id="LIC-ON-TIME",
    )
    make_record(
        subject=s,
        dataset="admin_licence",
        decision_date=D(2024, 3, 1),
        submitted_at=local(D(2024, 3, 13)),
        record_id="LATE-2",
    )
    # very late, but not a double-publicity dataset: counts in the delay, not as late
    make_record(
        subject=s,
        dataset="inspection_result",
        decision_date=D(2024, 3, 1),
        submitted_at=local(D(2024, 6, 3)),
        record_id="INSP",
    )
    # another department, on time
    make_record(
        subject=s,
        dataset="admin_penalty",
        department="environment",
        decision_date=D(2024, 3, 4),
        submitted_at=local(D(2024, 3, 5)),
        record_id="ENV",
    )
    return s


def test_late_double_publicity_counted_across_weekend_and_holiday(late_data, make_user):
    qo = make_user("qo", Role.QUALITY_OFFICE)
    report = selectors.timeliness(actor=qo)
    by = {d.department.code: d for d in report.departments}
    market = by["market"]
    assert market.records == 5
    assert market.due == 4
    assert market.late == 2
    assert market.late_share == 0.5
    # delays: 7, 8, 7, 8 and the inspection's; median 8, p90 the inspection's
    assert market.median == 8
    assert market.p90 == working_days_between(D(2024, 3, 1), D(2024, 6, 3))
    env = by["environment"]
    assert (env.due, env.late, env.median) == (1, 0, 1)
    assert (report.totals.records, report.totals.due, report.totals.late) == (6, 5, 2)
    assert report.as_dict()["all"]["late_share"] == 0.4


def test_late_list_pages_through_the_late_records(late_data, make_user):
    qo = make_user("qo", Role.QUALITY_OFFICE)
    page1 = selectors.late_submissions(actor=qo, per_page=1, page=1)
    page2 = selectors.late_submissions(actor=qo, per_page=1, page=2)
    assert page1.total == page2.total == 2
    assert page1.pages == 2
    got = [r["record"].source_record_id for r in page1.records + page2.records]
    assert got == ["LATE-1", "LATE-2"]  # newest decision first
    first = page1.records[0]
    assert first["delay"] == 8
    assert first["due_on"] == D(2024, 10, 11)
    assert first["submitted_on"] == D(2024, 10, 12)
    only_env = selectors.late_submissions(actor=qo, department="environment")
    assert only_env.total == 0 and only_env.records == []


def test_timeliness_is_scoped_to_the_officers_department(late_data, make_user):
    officer = make_user("env", Role.DATA_OFFICER, department="environment")
    report = selectors.timeliness(actor=officer)
    assert [d.department.code for d in report.departments] == ["environment"]
    assert selectors.late_submissions(actor=officer).total == 0


def test_date_range_filters_on_decision_date(late_data, make_user):
    qo = make_user("qo", Role.QUALITY_OFFICE)
    report = selectors.timeliness(actor=qo, date_from=D(2024, 9, 1))
    market = next(d for d in report.departments if d.department.code == "market")
    assert (market.records, market.due, market.late) == (2, 2, 1)
