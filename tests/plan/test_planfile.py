"""The seed plan, the plan file format, import/export round trip and malformed files."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from qualitycity.core.models import ObjectChange
from qualitycity.plan import services
from qualitycity.plan.config import SEED_PLAN
from qualitycity.plan.models import Measure, Plan, Target
from qualitycity.plan.planfile import PlanFileError

SEED_TEXT = "/work/shared/seed/qingdao-quality-improvement-action-plan-2018.zh.txt"

# DOMAIN.md §2: indicator → target value (None: the plan names no number).
DOMAIN_TARGETS = {
    "mfg_quality_index": 90,
    "major_project_acceptance": 100,
    "standard_bodies_new": 5,
    "intl_standards": 20,
    "national_industry_standards": 200,
    "pilot_projects_new": 50,
    "group_standard_orgs": 10,
    "world_brand_lab_500": 4,
    "china_500_valuable": 17,
    "china_quality_award": 5,
    "industrial_brand_demo": 20,
    "valid_trademarks": 180000,
    "madrid_registrations": 3000,
    "well_known_trademarks": 150,
    "national_agri_brands": 10,
    "shandong_famous_brands": 400,
    "three_products_one_mark": 1000,
    "agri_local_standards": 200,
    "model_enterprises_per_year": 10,
    "sme_quality_systems": 1000,
    "performance_excellence": 500,
    "market_social_satisfaction": None,
}


def test_seed_plan_has_33_measures_in_sections_2_to_6(plan):
    numbers = list(plan.measures.values_list("number", flat=True))
    assert len(numbers) == 33
    by_section = {}
    for n in numbers:
        by_section[n[0]] = by_section.get(n[0], 0) + 1
    assert by_section == {"二": 12, "三": 4, "四": 6, "五": 4, "六": 7}
    assert all(not m.departments_confirmed for m in plan.measures.all())
    assert plan.issuing_bodies == ["中共青岛市委", "青岛市人民政府"]


def test_seed_measure_texts_come_from_the_document(plan):
    try:
        with open(SEED_TEXT, encoding="utf-8") as f:
            document = f.read()
    except FileNotFoundError:
        pytest.skip("the seed document is not on this machine")
    for m in plan.measures.all():
        assert m.text[:60] in document, m.number
        assert f"({m.number[2:-1]}){m.title}。" in document, m.number
    m = plan.measures.get(number="二(四)")
    assert "“三品一标”农产品总量超过1000个" in m.text
    assert m.lead_department.code == "agriculture"


def test_seed_has_every_domain_target(plan):
    targets = {t.code: t for t in plan.targets.all()}
    for code, value in DOMAIN_TARGETS.items():
        assert code in targets, code
        assert targets[code].target_value == value, code
        assert targets[code].target_year == 2020
    assert targets["valid_trademarks"].obtained == "computed"
    assert targets["valid_trademarks"].metric == "valid_trademarks"
    assert targets["mfg_quality_index"].obtained == "reported"
    assert targets["model_enterprises_per_year"].per_year


def test_seed_load_is_idempotent(plan):
    before = ObjectChange.objects.count()
    assert services.seed_plan_ensure() == plan
    result = services.plan_import(text=SEED_PLAN.read_text(encoding="utf-8"), name="seed.yaml")
    assert result["created"] == result["updated"] == result["removed"] == 0
    assert ObjectChange.objects.count() == before
    assert Plan.objects.count() == 1 and Measure.objects.count() == 33


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_export_import_round_trip(plan, fmt):
    text = services.plan_export(plan=plan, fmt=fmt)
    doc = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    assert len(doc["measures"]) == 33
    # Another city: same file, another code, one changed target — imported as a new plan.
    doc["plan"]["code"] = "other-city"
    doc["targets"][0]["target"]["value"] = 95
    other = (
        json.dumps(doc, ensure_ascii=False)
        if fmt == "json"
        else yaml.safe_dump(doc, allow_unicode=True)
    )
    result = services.plan_import(text=other, name=f"other.{fmt}")
    assert result["created"] == 1 + 33 + len(doc["targets"])
    new = Plan.objects.get(code="other-city")
    assert new.targets.get(code="mfg_quality_index").target_value == 95
    again = services.plan_export(plan=new, fmt=fmt)
    assert (json.loads(again) if fmt == "json" else yaml.safe_load(again)) == doc


def test_import_updates_in_place_and_logs(plan):
    doc = yaml.safe_load(services.plan_export(plan=plan))
    doc["measures"][0]["lead_department"] = "science"
    doc["measures"][0]["cooperating_departments"] = ["market"]
    result = services.plan_import(text=yaml.safe_dump(doc, allow_unicode=True), name="x.yaml")
    assert result["updated"] == 1 and result["created"] == 0
    m = plan.measures.get(number="二(一)")
    assert m.lead_department.code == "science"
    assert list(m.cooperating_departments.values_list("code", flat=True)) == ["market"]
    assert ObjectChange.objects.filter(object_id=str(m.pk), action="update").exists()


def _broken(plan, mutate) -> list[str]:
    doc = yaml.safe_load(services.plan_export(plan=plan))
    mutate(doc)
    text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    with pytest.raises(PlanFileError) as exc:
        services.plan_import(text=text, name="bad.yaml")
    return exc.value.problems, text


def _line_of(text: str, needle: str) -> int:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(needle)


def test_malformed_file_errors_name_line_and_problem(plan):
    def mutate(doc):
        doc["measures"][2]["lead_department"] = "ministry_of_magic"
        doc["measures"][5]["number"] = doc["measures"][4]["number"]
        doc["targets"][1]["direction"] = "more_or_less"

    problems, text = _broken(plan, mutate)
    joined = "\n".join(problems)
    line = _line_of(text, "ministry_of_magic")
    expected = f"bad.yaml:{line}: measure 二(三): unknown department code 'ministry_of_magic'"
    assert expected in joined
    assert re.search(r"bad\.yaml:\d+: duplicate measure number 二\(五\)", joined)
    line = _line_of(text, "more_or_less")
    expected = f"bad.yaml:{line}: target major_project_acceptance: direction must be one of"
    assert expected in joined
    assert Measure.objects.count() == 33  # nothing written


def test_yaml_syntax_error_and_computed_metric(plan):
    with pytest.raises(PlanFileError) as exc:
        services.plan_import(text="plan:\n  code: x\n  title: [unclosed\n", name="s.yaml")
    assert exc.value.problems[0].startswith("s.yaml:")

    def mutate(doc):
        doc["targets"][3]["metric"] = "guesswork"

    problems, _ = _broken(plan, mutate)
    assert any("a computed target needs a known metric, not 'guesswork'" in p for p in problems)


def test_import_is_transactional(plan):
    doc = yaml.safe_load(services.plan_export(plan=plan))
    doc["measures"][0]["title"] = "改过的标题"
    doc["targets"] = [t for t in doc["targets"] if t["code"] != "mfg_quality_index"]
    # The target that disappears has values: the whole import is refused, the title unchanged.
    t = Target.objects.get(code="mfg_quality_index")
    t.values.create(on="2019-03-31", value=80, source="reported")
    from qualitycity.core.errors import Conflict

    with pytest.raises(Conflict):
        services.plan_import(text=yaml.safe_dump(doc, allow_unicode=True), name="x.yaml")
    assert plan.measures.get(number="二(一)").title == "增强高端装备制造业质量竞争力"
