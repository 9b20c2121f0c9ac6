"""Scorecard files: the shipped ones load; a broken one is refused with file, line and problem."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from qualitycity.credit import scorecard as sc
from qualitycity.credit.scorecard import ScorecardError, load_scorecards, parse_scorecard

GOOD = textwrap.dedent(
    """\
    id: test
    version: "1"
    title_zh: 测试
    title_en: Test
    effective_from: 2026-01-01
    reference: 国市监信发〔2022〕6号
    subject_types: [enterprise]
    scale: {base: 80, min: 0, max: 100}
    classes:
      - {class: A, min: 90}
      - {class: B, min: 70, below: 90}
      - {class: C, min: 50, below: 70}
      - {class: D, below: 50}
    indicators:
      - id: penalties
        kind: count
        label_zh: 处罚
        label_en: Penalties
        basis: b
        records:
          datasets: [admin_penalty]
          window_months: 12
        points: -5
        cap: 20
    """
)


def _parse(text: str, name: str = "card.yaml") -> sc.Scorecard:
    return parse_scorecard(Path(name), text)


def _refusal(text: str) -> ScorecardError:
    with pytest.raises(ScorecardError) as info:
        _parse(text)
    return info.value


def test_the_shipped_scorecards_load_and_cover_enterprises_and_individual_businesses():
    cards = sc.scorecards()
    ids = {c.id for c in cards}
    assert {"enterprise", "individual_business"} <= ids
    for card in cards:
        assert card.reference and card.version and card.effective_from
        assert [b.risk_class for b in reversed(card.classes)] == ["A", "B", "C", "D"]
    enterprise = next(c for c in cards if c.id == "enterprise")
    kinds = {i.kind for i in enterprise.indicators}
    assert kinds == {"count", "exists", "sum", "age"}
    assert {o.risk_class for o in enterprise.overrides} == {"D"}


def test_a_good_file_parses_into_the_model():
    card = _parse(GOOD)
    assert card.key == "test@1"
    assert card.class_for(90) == "A" and card.class_for(89.99) == "B" and card.class_for(100) == "A"
    assert card.class_for(0) == "D" and card.class_for(49.99) == "D"
    ind = card.indicator("penalties")
    assert ind.filter.datasets == ("admin_penalty",) and ind.cap == 20.0


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        (
            "datasets: [admin_penalty]",
            "datasets: [admin_penaltys]",
            21,
            "unknown dataset 'admin_penaltys'",
        ),
        ("points: -5", "points: five", 23, "'points' must be a number, not 'five'"),
        ("- {class: B, min: 70, below: 90}", "- {class: B, min: 70, below: 95}", 10, "overlaps"),
        (
            "- {class: C, min: 50, below: 70}",
            "- {class: C, min: 55, below: 70}",
            12,
            "no class covers scores from 50 to 55",
        ),
        ("reference: 国市监信发〔2022〕6号\n", "", 1, "'reference' is missing"),
        ("kind: count", "kind: average", 16, "unknown kind 'average'"),
        (
            "window_months: 12",
            "window_months: -3",
            22,
            "'window_months' must be a whole number above 0",
        ),
        ("cap: 20", "cap: 20\n    weight: 3", 25, "unknown key 'weight'"),
        ("effective_from: 2026-01-01", "effective_from: soon", 5, "must be a date"),
        (
            "subject_types: [enterprise]",
            "subject_types: [company]",
            7,
            "unknown subject type 'company'",
        ),
    ],
)
def test_a_broken_file_is_refused_with_its_line_and_problem(old, new, line, message):
    text = GOOD.replace(old, new)
    assert text != GOOD
    err = _refusal(text)
    assert err.path == "card.yaml"
    assert message in err.message
    assert err.line == line, str(err)
    assert str(err).startswith(f"card.yaml:{line}: ")


def test_field_filters_are_checked_against_the_catalogue_and_its_code_lists():
    base = GOOD.replace(
        "      window_months: 12",
        "      window_months: 12\n      fields: {penalty_category: [fine]}",
    )
    assert _parse(base).indicator("penalties").filter.fields == (("penalty_category", ("fine",)),)
    err = _refusal(base.replace("[fine]", "[fined]"))
    assert "'fined' is not a code of penalty_category" in err.message and err.line == 23
    err = _refusal(base.replace("penalty_category:", "colour:"))
    assert "has no field 'colour'" in err.message


def test_yaml_syntax_errors_and_duplicate_keys_name_the_line():
    err = _refusal(GOOD.replace("scale: {base: 80, min: 0, max: 100}", "scale: {base: 80, min: 0"))
    assert err.line is not None and err.line >= 8
    err = _refusal(GOOD + "id: again\n")
    assert "duplicate key 'id'" in err.message and err.line == 25


def test_versions_of_one_scorecard_must_not_be_in_force_together(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(
        GOOD.replace('version: "1"', 'version: "2"').replace("2026-01-01", "2026-07-01"),
        encoding="utf-8",
    )
    with pytest.raises(ScorecardError, match="still in force"):
        load_scorecards(tmp_path)
    (tmp_path / "a.yaml").write_text(
        GOOD.replace(
            "effective_from: 2026-01-01", "effective_from: 2026-01-01\neffective_to: 2026-07-01"
        ),
        encoding="utf-8",
    )
    cards = load_scorecards(tmp_path)
    assert [c.version for c in cards if c.in_force(dt.date(2026, 6, 30))] == ["1"]
    assert [c.version for c in cards if c.in_force(dt.date(2026, 7, 1))] == ["2"]


def test_months_before_keeps_the_day_or_takes_the_last_of_a_shorter_month():
    assert sc.months_before(dt.date(2026, 6, 30), 36) == dt.date(2023, 6, 30)
    assert sc.months_before(dt.date(2026, 3, 31), 1) == dt.date(2026, 2, 28)
    assert sc.months_before(dt.date(2024, 3, 31), 1) == dt.date(2024, 2, 29)
    assert sc.months_before(dt.date(2026, 1, 15), 13) == dt.date(2024, 12, 15)


@pytest.mark.django_db
def test_the_scorecards_command_checks_files(tmp_path, capsys):
    from django.core.management import CommandError, call_command

    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("points: -5", "points: lots"), encoding="utf-8")
    call_command("scorecards", "--check", str(good))
    assert "ok (test@1" in capsys.readouterr().out
    with pytest.raises(CommandError):
        call_command("scorecards", "--check", str(good), str(bad))
    assert f"{bad}:23: indicator 'penalties': 'points' must be a number" in capsys.readouterr().err
