"""Reporting periods: quarters (``2019Q3``), their bounds and due days, a plan's quarters."""

from __future__ import annotations

import datetime as dt

from qualitycity.core.errors import ValidationFailed

from . import config
from .models import Plan


def period_of(day: dt.date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def period_bounds(period: str) -> tuple[dt.date, dt.date]:
    try:
        year, q = int(period[:4]), int(period[5:])
        if period[4] != "Q" or not 1 <= q <= 4 or len(period) != 6:
            raise ValueError
    except (ValueError, IndexError):
        raise ValidationFailed(
            f"Not a quarter: {period!r} (e.g. 2019Q3).", code="invalid_period"
        ) from None
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1) - dt.timedelta(days=1)
    return start, end


def period_due(period: str) -> dt.date:
    return period_bounds(period)[1] + dt.timedelta(days=config.plan_settings()["report_due_days"])


def plan_periods(plan: Plan, *, until: dt.date | None = None) -> list[str]:
    """The plan's quarters from its start, up to the one containing ``until``."""
    out, day = [], plan.starts_on
    last = min(plan.ends_on, until) if until else plan.ends_on
    while day <= last:
        p = period_of(day)
        if p not in out:
            out.append(p)
        day = period_bounds(p)[1] + dt.timedelta(days=1)
    return out
