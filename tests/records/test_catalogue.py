"""The dataset catalogue: loading, validation of the files, header matching."""

from __future__ import annotations

import pytest

from qualitycity.core.errors import NotFound
from qualitycity.records.catalogue import (
    CODELISTS_FILE,
    CatalogueError,
    datasets,
    get_dataset,
    load_catalogue,
)

REQUIRED_DATASETS = {
    "admin_licence",
    "admin_penalty",
    "inspection_result",
    "tax_rating",
    "social_insurance_arrears",
    "court_enforcement",
    "spot_check_result",
    "food_safety_violation",
    "work_safety_accident",
    "environmental_penalty",
    "ip_infringement_penalty",
    "customs_aeo",
    "honour",
    "enterprise_registration",
}


def test_shipped_catalogue_loads_with_registrations_first():
    codes = [d.code for d in datasets()]
    assert set(codes) >= REQUIRED_DATASETS
    kinds = [d.kind for d in datasets()]
    assert kinds == sorted(kinds, key=lambda k: k != "registration")


def test_get_dataset_unknown():
    with pytest.raises(NotFound) as exc:
        get_dataset("nope")
    assert exc.value.code == "unknown_dataset"


def test_header_matching_accepts_names_labels_and_fullwidth_variants():
    ds = get_dataset("admin_penalty")
    mapping, missing, unknown = ds.match_header(
        ["\ufeff 行政相对人名称 ", "SUBJECT_CODE", "罚款金额(万元)", "罚款金额（万元）", "颜色", ""]
    )
    assert mapping == ["subject_name", "subject_code", "fine_amount", None, None, None]
    assert unknown == ["罚款金额（万元）", "颜色"]  # a column named twice is unknown the 2nd time
    assert "decision_no" in missing and "subject_name" not in missing
    assert "version" in [f.name for f in ds.fields]  # every record dataset accepts a version


def test_code_list_accepts_code_or_label():
    field = get_dataset("admin_penalty").field("penalty_category")
    assert field.codes["罚款"] == "fine" and field.codes["fine"] == "fine"
    district = get_dataset("enterprise_registration").field("district")
    assert district.codes["崂山区"] == "370212"


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("- {code: x, name_zh: x, name_en: x, kind: record}", "missing 'polarity'"),
        (
            "- {code: x, name_zh: x, name_en: x, kind: nonsense, polarity: neutral}",
            "kind 'nonsense'",
        ),
        (
            "- code: x\n  name_zh: x\n  name_en: x\n  kind: record\n  category: c\n"
            "  polarity: neutral\n  departments: [market]\n"
            "  keys: {subject_code: a, subject_name: a, record_id: a, decision_date: a}\n"
            "  fields:\n    - {name: a, type: colour}\n",
            "unknown type 'colour'",
        ),
        (
            "- code: x\n  name_zh: x\n  name_en: x\n  kind: record\n  category: c\n"
            "  polarity: neutral\n  departments: [market]\n"
            "  keys: {subject_code: a, subject_name: a, record_id: a, decision_date: a}\n"
            "  fields:\n    - {name: a, type: code, codelist: nope}\n",
            "unknown code list 'nope'",
        ),
        (
            "- code: x\n  name_zh: x\n  name_en: x\n  kind: record\n  category: c\n"
            "  polarity: neutral\n  departments: [market]\n"
            "  keys: {subject_code: a, subject_name: a, record_id: b, decision_date: a}\n"
            "  fields:\n    - {name: a, type: subject_code}\n",
            "keys.record_id names unknown field 'b'",
        ),
        ("not: [valid", "not valid YAML"),
    ],
)
def test_a_bad_catalogue_fails_loudly_naming_file_dataset_and_problem(tmp_path, yaml_text, problem):
    path = tmp_path / "datasets.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(CatalogueError) as exc:
        load_catalogue(path, CODELISTS_FILE)
    message = str(exc.value)
    assert str(path) in message and problem in message
    if "YAML" not in problem:
        assert "dataset 'x'" in message


def test_datasets_command_json(capsys, db):
    import orjson
    from django.core.management import call_command

    call_command("datasets", "--json")
    items = orjson.loads(capsys.readouterr().out)
    penalty = next(d for d in items if d["code"] == "admin_penalty")
    assert penalty["category"] == "penalty" and "market" in penalty["departments"]
    assert any(
        f["name"] == "penalty_category" and f["codelist"] == "penalty_category"
        for f in penalty["fields"]
    )
