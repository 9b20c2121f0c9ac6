"""Progress and projection maths of a target (pure functions, no database).

Progress is the share of the way from the baseline to the target:
``(current − baseline) / (target − baseline)``. The same formula serves every direction: for
"at most" (lower is better) both differences are negative, so a fall towards the target is
progress. For "exactly", overshooting counts against: ``1 − |current − target| / |target −
baseline|``.

Projection: an ordinary least-squares line through the series (the baseline included, time in
years) gives the value at the end of the target year; its progress share decides the status:
on track (≥ ``on_track``), at risk (≥ ``at_risk``) or off track (thresholds in
``config/settings.yaml``). With fewer than two values there is no projection. A per-year target
(e.g. 10 enterprises each year) compares the latest year's value with the yearly target.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ON_TRACK, AT_RISK, OFF_TRACK, ACHIEVED = "on_track", "at_risk", "off_track", "achieved"


def year_end(year: int) -> dt.date:
    return dt.date(year, 12, 31)


def years_between(a: dt.date, b: dt.date) -> float:
    return (b - a).days / 365.25


def progress_fraction(direction: str, baseline: float, target: float, current: float) -> float:
    """Share of the way from baseline to target (may exceed 1 or fall below 0)."""
    span = target - baseline
    if direction == "exactly":
        if span == 0:
            return 1.0 if current == target else 0.0
        return 1.0 - abs(current - target) / abs(span)
    if span == 0:
        return 1.0 if is_achieved(direction, target, current) else 0.0
    return (current - baseline) / span


def is_achieved(direction: str, target: float, current: float) -> bool:
    if direction == "at_most":
        return current <= target
    if direction == "exactly":
        return abs(current - target) < 1e-9
    return current >= target


def least_squares(points: list[tuple[float, float]]) -> tuple[float, float]:
    """``(intercept, slope)`` of the least-squares line through ``(x, y)`` points."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return my, 0.0
    slope = sum((x - mx) * (y - my) for x, y in points) / sxx
    return my - slope * mx, slope


@dataclass
class Projection:
    status: str | None  # achieved, on_track, at_risk, off_track, or None (cannot tell)
    value: float | None  # projected at the end of the target year
    fraction: float | None
    method: str
    # trend, achieved, final, per_year, too_few, no_number — for a translated description
    method_kind: str = "trend"
    points: int = 0


def expected_fraction(baseline_on: dt.date, target_on: dt.date, on: dt.date) -> float:
    """Where the straight line from baseline to target says progress should be on ``on``."""
    total = (target_on - baseline_on).days
    if total <= 0:
        return 1.0
    return max(0.0, min(1.0, (on - baseline_on).days / total))


def project(
    *,
    direction: str,
    baseline: tuple[dt.date, float] | None,
    target_value: float | None,
    target_year: int,
    series: list[tuple[dt.date, float]],
    per_year: bool = False,
    on_track: float = 1.0,
    at_risk: float = 0.85,
) -> Projection:
    """Project the series to the end of the target year and classify it."""
    if target_value is None:
        return Projection(
            None, None, None, "no numeric target: progress is not measured", "no_number"
        )
    if per_year:
        if not series:
            return Projection(None, None, None, "per-year target: no value yet", "too_few")
        on, latest = series[-1]
        fraction = latest / target_value if target_value else 1.0
        return Projection(
            _classify(fraction, on_track, at_risk, direction, target_value, latest),
            latest,
            fraction,
            f"per-year target: the latest year's value ({on.year}) against the yearly target",
            "per_year",
        )
    points = ([baseline] if baseline else []) + [
        p for p in series if not baseline or p[0] > baseline[0]
    ]
    if baseline is None or len(points) < 2:
        return Projection(
            None, None, None, "not enough values to project (two are needed)", "too_few"
        )
    end = year_end(target_year)
    latest_on, latest = points[-1]
    if latest_on >= end:
        fraction = progress_fraction(direction, baseline[1], target_value, latest)
        final = ACHIEVED if is_achieved(direction, target_value, latest) else OFF_TRACK
        return Projection(
            final, latest, fraction, f"the target year has ended: value on {end}", "final"
        )
    origin = points[0][0]
    xy = [(years_between(origin, d), v) for d, v in points]
    intercept, slope = least_squares(xy)
    value = intercept + slope * years_between(origin, end)
    if is_achieved(direction, target_value, latest) and latest_on <= end:
        fraction = progress_fraction(direction, baseline[1], target_value, latest)
        return Projection(
            ACHIEVED,
            latest,
            fraction,
            f"the latest value ({latest_on}) already meets the target",
            "achieved",
        )
    fraction = progress_fraction(direction, baseline[1], target_value, value)
    return Projection(
        _classify(fraction, on_track, at_risk, direction, target_value, value),
        value,
        fraction,
        f"least-squares linear trend over {len(points)} values (baseline included), "
        f"extended to {end}; on track ≥ {on_track:.0%}, at risk ≥ {at_risk:.0%} of the way",
        "trend",
        len(points),
    )


def _classify(
    fraction: float, on_track: float, at_risk: float, direction: str, target: float, value: float
) -> str:
    if fraction >= on_track or is_achieved(direction, target, value):
        return ON_TRACK
    if fraction >= at_risk:
        return AT_RISK
    return OFF_TRACK
