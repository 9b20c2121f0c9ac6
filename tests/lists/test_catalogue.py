"""The list catalogue and the dated period rules: loading, validation and date arithmetic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from qualitycity.lists.catalogue import (
    ListCatalogueError,
    add_months,
    get_list,
    load_period_rules,
    period_rule_on,
    publication_period,
)

D = dt.date


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(D(2025, 8, 31), 6) == D(2026, 2, 28)
    assert add_months(D(2023, 8, 31), 6) == D(2024, 2, 29)
    assert add_months(D(2025, 3, 3), 36) == D(2028, 3, 3)
    assert add_months(D(2025, 3, 3), -12) == D(2024, 3, 3)


def test_the_rule_in_force_is_the_latest_by_the_day():
    assert period_rule_on(D(2025, 12, 31)).effective_from == D(2019, 7, 9)
    assert period_rule_on(D(2026, 1, 1)).effective_from == D(2026, 1, 1)
    assert period_rule_on(D(2026, 1, 1)).unconfirmed
    assert period_rule_on(D(2026, 1, 1)).deadline("repair_decision_working_days") == 3


def test_publication_period_by_kind_and_level(db):
    court = get_list("court_dishonest")
    old = publication_period(court, D(2025, 3, 3))
    assert (old.repair_allowed_from, old.publication_ends_on) == (D(2025, 9, 3), D(2028, 3, 3))
    new = publication_period(court, D(2026, 3, 3))
    assert new.repair_allowed_from == D(2027, 3, 3)
    watch = publication_period(get_list("watch"), D(2026, 3, 3))
    assert (watch.repair_allowed_from, watch.publication_ends_on) == (D(2026, 6, 3), D(2027, 3, 3))
    red = publication_period(get_list("quality_award"), D(2026, 3, 3))
    assert red.repair_allowed_from is None and red.publication_ends_on == D(2029, 3, 3)


def test_a_period_file_without_a_deadline_is_refused(tmp_path: Path):
    bad = tmp_path / "periods.yaml"
    bad.write_text(
        "- effective_from: 2020-01-01\n"
        "  reference: x\n"
        "  levels: {general: {min_months: 3, max_months: 12}}\n"
        "  deadlines: {objection_decision_working_days: 15, repair_decision_working_days: 3}\n",
        encoding="utf-8",
    )
    with pytest.raises(ListCatalogueError, match="notice_working_days is missing"):
        load_period_rules(bad)
    bad.write_text(
        "- effective_from: 2020-01-01\n"
        "  reference: x\n"
        "  levels: {general: {min_months: 13, max_months: 12}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ListCatalogueError, match="general needs"):
        load_period_rules(bad)
