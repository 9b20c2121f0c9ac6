"""Progress and projection maths, including "at most" (lower is better) and per-year targets."""

from __future__ import annotations

import datetime as dt

import pytest

from qualitycity.plan import progress, selectors
from qualitycity.plan.progress import progress_fraction, project

D = dt.date


def test_progress_fraction_by_direction():
    assert progress_fraction("at_least", 0, 200, 50) == pytest.approx(0.25)
    # at most: from 40 down to 10; at 25 we are half way; rising is negative progress.
    assert progress_fraction("at_most", 40, 10, 25) == pytest.approx(0.5)
    assert progress_fraction("at_most", 40, 10, 50) == pytest.approx(-1 / 3)
    # exactly: overshooting 100 by 10 on a way of 20 costs half.
    assert progress_fraction("exactly", 80, 100, 110) == pytest.approx(0.5)
    assert progress_fraction("exactly", 80, 100, 100) == 1.0


def test_least_squares_line():
    a, b = progress.least_squares([(0, 1), (1, 3), (2, 5)])
    assert (a, b) == (pytest.approx(1), pytest.approx(2))


def test_projection_on_track_at_risk_off_track():
    base = (D(2018, 12, 31), 0.0)
    # 25 a quarter reaches 200 at the end of 2020: on track.
    series = [(D(2019, 3, 31), 25.0), (D(2019, 6, 30), 50.0), (D(2019, 9, 30), 75.0)]
    p = project(direction="at_least", baseline=base, target_value=200, target_year=2020,
                series=series)  # fmt: skip
    assert p.status == "on_track" and p.value == pytest.approx(200, rel=0.02)
    assert "least-squares" in p.method
    slow = [(d, v * 0.9) for d, v in series]
    assert project(direction="at_least", baseline=base, target_value=200, target_year=2020,
                   series=slow).status == "at_risk"  # fmt: skip
    slower = [(d, v * 0.5) for d, v in series]
    assert project(direction="at_least", baseline=base, target_value=200, target_year=2020,
                   series=slower).status == "off_track"  # fmt: skip


def test_projection_at_most_lower_is_better():
    base = (D(2018, 12, 31), 40.0)
    falling = [(D(2019, 6, 30), 32.5), (D(2019, 12, 31), 25.0)]
    p = project(direction="at_most", baseline=base, target_value=10, target_year=2020,
                series=falling)  # fmt: skip
    assert p.status == "on_track" and p.value == pytest.approx(10, abs=0.5)
    rising = [(D(2019, 6, 30), 42.0), (D(2019, 12, 31), 44.0)]
    assert project(direction="at_most", baseline=base, target_value=10, target_year=2020,
                   series=rising).status == "off_track"  # fmt: skip


def test_projection_needs_two_values_and_a_number():
    assert project(direction="at_least", baseline=None, target_value=90, target_year=2020,
                   series=[(D(2019, 3, 31), 80.0)]).status is None  # fmt: skip
    assert project(direction="at_least", baseline=(D(2018, 12, 31), 1.0), target_value=None,
                   target_year=2020, series=[]).method.startswith("no numeric target")  # fmt: skip


def test_per_year_target_sums_the_year(plan):
    t = plan.targets.get(code="model_enterprises_per_year")
    for day, v in ((D(2019, 6, 30), 4), (D(2019, 12, 31), 7), (D(2020, 3, 31), 3)):
        t.values.create(on=day, value=v, source="reported")
    st = selectors.target_status(t, D(2020, 4, 30))
    # 2020 so far: 3 of 10.
    assert st["progress_percent"] == 30.0
    assert st["projection"]["status"] == "off_track"
    st2019 = selectors.target_status(t, D(2019, 12, 31))
    assert st2019["progress_percent"] == 110.0 and st2019["projection"]["status"] == "on_track"


def test_reported_target_status_from_values(plan):
    t = plan.targets.get(code="mfg_quality_index")
    t.baseline_value, t.baseline_year = 84.0, 2018
    t.save()
    t.values.create(on=D(2019, 6, 30), value=85.5, source="reported")
    t.values.create(on=D(2019, 12, 31), value=87.0, source="reported")
    st = selectors.target_status(t, D(2020, 1, 31))
    assert st["current"] == {"value": 87.0, "on": D(2019, 12, 31)}
    assert st["progress_percent"] == 50.0
    assert st["projection"]["status"] == "on_track"  # 3 points a year reaches 90 in 2020
    assert st["expected_percent"] == pytest.approx(54.2, abs=0.1)
