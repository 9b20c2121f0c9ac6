"""Working days: Monday to Friday, minus public holidays, plus make-up working days (调休).

The calendar is configuration (``config/holidays.yaml``, one block per year as published by the
State Council). Pure Python: a working-day count is the difference of two entries of a
precomputed cumulative table, so counting is O(1) per (decision date, submission date) pair.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HOLIDAYS_FILE = Path(__file__).resolve().parent / "config" / "holidays.yaml"

# The table covers these dates; outside it the plain Monday-Friday rule applies.
_TABLE_START = dt.date(2000, 1, 3)  # a Monday
_TABLE_END = dt.date(2100, 12, 31)


class CalendarError(ValueError):
    """The holiday file is malformed (the message names the file and the entry)."""


def _parse_day(value: Any, where: str) -> list[dt.date]:
    if isinstance(value, dt.date):
        return [value]
    text = str(value).strip()
    try:
        if ".." in text:
            first, last = (dt.date.fromisoformat(p.strip()) for p in text.split("..", 1))
            if last < first:
                raise ValueError("range ends before it starts")
            return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
        return [dt.date.fromisoformat(text)]
    except ValueError as exc:
        raise CalendarError(f"{HOLIDAYS_FILE}: {where}: bad date {text!r} ({exc})") from exc


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    years: tuple[int, ...] = ()
    _cumulative: list[int] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def build(
        cls, holidays: set[dt.date], workdays: set[dt.date], years: tuple[int, ...] = ()
    ) -> WorkCalendar:
        cal = cls(frozenset(holidays), frozenset(workdays), years, [])
        total, day = 0, _TABLE_START
        one = dt.timedelta(days=1)
        cumulative = cal._cumulative
        while day <= _TABLE_END:
            if cal._is_working(day):
                total += 1
            cumulative.append(total)  # working days in [_TABLE_START, day]
            day += one
        return cal

    def _is_working(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def is_working_day(self, day: dt.date) -> bool:
        return self._is_working(day)

    def _count_to(self, day: dt.date) -> int:
        """Working days in [_TABLE_START, day] (negative counts before the table)."""
        if _TABLE_START <= day <= _TABLE_END:
            return self._cumulative[(day - _TABLE_START).days]
        if day > _TABLE_END:
            return self._cumulative[-1] + _plain_weekdays(_TABLE_END, day)
        return -_plain_weekdays(day, _TABLE_START - dt.timedelta(days=1))

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start).

        A decision on a Monday submitted the next Monday is 5 working days late.
        """
        if end <= start:
            return 0
        return self._count_to(end) - self._count_to(start)

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (the due date of a 7-working-day deadline)."""
        day, left = start, n
        one = dt.timedelta(days=1)
        while left > 0:
            day += one
            if self._is_working(day):
                left -= 1
        return day


def _plain_weekdays(start: dt.date, end: dt.date) -> int:
    """Monday-Friday days in (start, end]."""
    if end <= start:
        return 0
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    wd = start.weekday()
    for i in range(1, rest + 1):
        if (wd + i) % 7 < 5:
            count += 1
    return count


def load_calendar(path: Path = HOLIDAYS_FILE) -> WorkCalendar:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, ValueError) as exc:  # PyYAML raises ValueError for a bad date
        raise CalendarError(f"{path}: not valid YAML or a bad date: {exc}") from exc
    years = data.get("years")
    if not isinstance(years, dict):
        raise CalendarError(f"{path}: expected a mapping 'years: {{<year>: ...}}'")
    holidays: set[dt.date] = set()
    workdays: set[dt.date] = set()
    for year, block in years.items():
        if not isinstance(block, dict):
            raise CalendarError(f"{path}: year {year}: expected holidays/workdays lists")
        for entry in block.get("holidays") or []:
            holidays.update(_parse_day(entry, f"year {year} holidays"))
        for entry in block.get("workdays") or []:
            for day in _parse_day(entry, f"year {year} workdays"):
                if day.weekday() < 5:
                    raise CalendarError(
                        f"{path}: year {year}: make-up working day {day} is not a weekend day"
                    )
                workdays.add(day)
    overlap = holidays & workdays
    if overlap:
        raise CalendarError(f"{path}: dates both holiday and working day: {sorted(overlap)}")
    return WorkCalendar.build(holidays, workdays, tuple(sorted(int(y) for y in years)))


@cache
def calendar() -> WorkCalendar:
    """The configured calendar (loaded once per process)."""
    return load_calendar()


def working_days_between(start: dt.date, end: dt.date) -> int:
    return calendar().working_days_between(start, end)
