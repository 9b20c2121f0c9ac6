"""The measures catalogue: the shipped file, validation with file and line, dated versions."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from qualitycity.discipline.catalogue import (
    CONFIG_PATH,
    MeasureCatalogueError,
    catalogue,
    load_catalogue,
)
from qualitycity.lists.catalogue import lists

pytestmark = pytest.mark.django_db

HEAD = """\
scenarios:
  - {code: subsidies, name_zh: 补助, name_en: Subsidies}
  - {code: financing, name_zh: 融资, name_en: Financing}
measures:
"""

MEASURE = """\
  - id: {id}
    kind: {kind}
    text_zh: 文本
    text_en: text
    legal_basis: 依据
    department: {department}
    scenarios: [{scenarios}]
    lists: [{lists}]
    effective_from: {start}
"""


def measure(**kw: str) -> str:
    values = {
        "id": "m1",
        "kind": "punishment",
        "department": "market",
        "scenarios": "subsidies",
        "lists": "court_dishonest",
        "start": "2020-01-01",
    }
    values.update(kw)
    return MEASURE.format(**values)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "measures.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_shipped_catalogue_is_valid_and_complete():
    cat = catalogue()
    assert Path(cat.path) == CONFIG_PATH
    ids = cat.ids()
    assert 20 <= len(ids) <= 40
    kinds = {m.kind for m in cat.measures}
    assert kinds == {"punishment", "reward"}
    for m in cat.measures:
        assert m.legal_basis and m.text_zh and m.text_en and m.scenarios and m.lists
    # Every list of the catalogue triggers something; every scenario has a measure.
    triggered = set().union(*(m.lists for m in cat.measures))
    assert triggered == set(lists())
    assert {s for m in cat.measures for s in m.scenarios} == set(cat.scenarios)
    assert {
        "market_access",
        "administrative_licensing",
        "project_approval",
        "subsidies",
        "financing",
        "government_procurement",
        "public_resource_trading",
        "honours_awards",
    } <= set(cat.scenarios)
    # References named by the plan and the national list.
    bases = " ".join(m.legal_basis for m in cat.measures)
    for reference in (
        "行政许可法》第七十八条",
        "政府采购法》第二十二条",
        "限制被执行人高消费",
        "第54号",
    ):
        assert reference in bases
    assert len(cat.digest) == 12


def test_a_valid_file_with_dated_versions(tmp_path):
    text = (
        HEAD
        + measure(lists="kind:black")
        + """\
    effective_to: 2022-01-01
"""
        + measure(start="2022-01-01", scenarios="subsidies, financing", lists="court_dishonest")
    )
    cat = load_catalogue(write(tmp_path, text))
    assert len(cat.measures) == 2 and cat.ids() == ["m1"]
    old, new = cat.measures
    assert old.lists == {c for c, d in lists().items() if d.kind == "black"}
    assert cat.get("m1", dt.date(2021, 12, 31)) is old
    assert cat.get("m1", dt.date(2022, 1, 1)) is new
    assert cat.get("m1", dt.date(2019, 12, 31)) is None

    def applicable(day: dt.date, scenario: str = "financing") -> list[str]:
        found = cat.applicable(scenario=scenario, day=day, list_codes=["court_dishonest"])
        return [m.id for m, _ in found]

    assert applicable(dt.date(2021, 6, 1)) == []  # the old version had no financing
    assert applicable(dt.date(2022, 6, 1)) == ["m1"]
    assert applicable(dt.date(2021, 6, 1), "subsidies") == ["m1"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (HEAD + measure(lists="no_such_list"), 12, "unknown list 'no_such_list'"),
        (HEAD + measure(scenarios="lottery"), 11, "unknown scenario(s) lottery"),
        (HEAD + measure(department="nowhere"), 10, "unknown department 'nowhere'"),
        (HEAD + measure(kind="reward"), 12, "a reward cannot be triggered by court_dishonest"),
        (HEAD + measure(kind="maybe"), 6, "kind must be one of"),
        (HEAD + measure(lists="kind:purple"), 12, "no list of kind 'purple'"),
        (HEAD + measure(start="soon"), 13, "'effective_from' must be a date"),
        (HEAD + measure() + "    colour: red\n", 14, "unknown key 'colour'"),
        (HEAD + measure().replace("    legal_basis: 依据\n", ""), 5, "'legal_basis' is missing"),
        (HEAD + measure() + measure(start="2021-01-01"), 14, "overlaps the version of line 5"),
        (HEAD + measure() + "    effective_to: 2019-01-01\n", 14, "must come after"),
        (HEAD + measure(id="Bad Id"), 5, "an id is lower-case"),
        ("scenarios: []\nmeasures: []\n", 1, "'scenarios' must be a non-empty list"),
        (HEAD + "  - id: [unclosed\n", 6, "not valid YAML"),
    ],
)
def test_problems_are_refused_with_file_and_line(tmp_path, text, line, message):
    path = write(tmp_path, text)
    with pytest.raises(MeasureCatalogueError) as caught:
        load_catalogue(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"measures.yaml:{line}:"), str(caught.value)


def test_any_department_means_every_department_of_the_scenario(tmp_path):
    cat = load_catalogue(write(tmp_path, HEAD + measure(department="any")))
    assert cat.measures[0].department is None
    assert cat.measures[0].public["department"] is None
