"""Registries: standard numbers by kind, loads with quarantine, idempotent resubmission,
GB18030 CSV, XLSX and JSON Lines, and computed targets as of a date with their items."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from qualitycity.plan import selectors, services
from qualitycity.plan.models import RegistryFile, Standard, Trademark
from qualitycity.plan.registries import StandardNumberError, classify_standard_number
from tests.subjects.factories import uscc

D = dt.date


@pytest.mark.parametrize(
    ("raw", "number", "kind", "level"),
    [
        ("ISO 17025:2017", "ISO 17025:2017", "iso_iec", "international"),
        ("ISO 20022-1:2013", "ISO 20022-1:2013", "iso_iec", "international"),
        ("iso/iec 27001:2013", "ISO/IEC 27001:2013", "iso_iec", "international"),
        ("IEC 60335-2-24:2020", "IEC 60335-2-24:2020", "iso_iec", "international"),
        ("ITU-T X.509 (2019)", "ITU-T X.509 (2019)", "itu", "international"),
        ("GB 4706.1-2005", "GB 4706.1-2005", "gb", "national"),
        ("GB/T19001-2016", "GB/T 19001-2016", "gb", "national"),
        (
            "ＧＢ／Ｔ 19001－2016".replace("Ｇ", "G").replace("Ｂ", "B").replace("Ｔ", "T"),
            "GB/T 19001-2016",
            "gb",
            "national",
        ),  # fmt: skip
        ("JB/T 10001-2019", "JB/T 10001-2019", "industry", "industry"),
        ("NY/T 391-2013", "NY/T 391-2013", "industry", "industry"),
        ("DB37/T 3456-2019", "DB37/T 3456-2019", "local", "local"),
        ("DB3702/T 88-2020", "DB3702/T 88-2020", "local", "local"),
        ("T/QDAS 012-2020", "T/QDAS 012-2020", "group", "group"),
        ("T/CAS 115-2019", "T/CAS 115-2019", "group", "group"),
    ],
)
def test_standard_numbers_good(raw, number, kind, level):
    assert classify_standard_number(raw) == (number, kind, level)


@pytest.mark.parametrize(
    "raw",
    [
        "ISO 17025",  # no year
        "ISO 17025-2017",  # ISO uses a colon
        "GB/T 19001:2016",  # GB uses a hyphen
        "GB/X 19001-2016",
        "QQ/T 1234-2019",  # not an industry code
        "DB37/T 3456",
        "T/ 12-2020",
        "GB/T 19001-1850",  # implausible year
        "",
    ],
)
def test_standard_numbers_bad(raw):
    with pytest.raises(StandardNumberError):
        classify_standard_number(raw)


HEADER = "number,title,level,role,domain,organisations,published_on,effective_on,withdrawn_on\n"


@pytest.fixture
def orgs(register_subjects):
    return register_subjects({1: "青岛海尔股份有限公司", 2: "青岛啤酒股份有限公司"})


def test_load_quarantines_bad_rows_and_resubmission_changes_nothing(plan, orgs, tmp_path):
    a, b = orgs
    path = tmp_path / "standards.csv"
    path.write_text(
        HEADER
        + f"ISO 20022-1:2019,海水淡化 第1部分,international,led,,{a},2019-05-01,,\n"
        + f"GB/T 19001-2016,质量管理体系 要求,national,took_part,,{a};{b},2016-12-30,,\n"
        + f"GB/T 1234:2016,坏编号,national,led,,{a},2016-01-01,,\n"
        + f"DB37/T 3456-2019,大白菜生产技术规程,national,led,agriculture,{a},2019-03-01,,\n"
        + "T/QDAS 012-2020,青岛绿茶,group,led,agriculture,911111111111111111,2020-01-01,,\n"
        + f"NY/T 391-2013,绿色食品 产地环境,industry,took_part,,{b},not a date,,\n",
        encoding="utf-8",
    )
    r = services.registry_load(kind="standards", path=path)
    assert (r["rows"], r["accepted"], r["rejected"]) == (6, 2, 4)
    reasons = {x["row"]: x["reasons"] for x in r["rejected_rows"]}
    assert "not a standard number" in reasons[4]["number"]
    assert reasons[5]["level"] == "the number DB37/T 3456-2019 is a local standard, not national"
    assert "invalid USCC" in reasons[6]["organisations"]
    assert "published_on" in reasons[7]
    rf = RegistryFile.objects.get(pk=r["id"])
    assert len(rf.sha256) == 64 and rf.stored_path
    std = Standard.objects.get(number="GB/T 19001-2016")
    assert sorted(std.subjects.values_list("code", flat=True)) == sorted([a, b])
    again = services.registry_load(kind="standards", path=path)
    assert again["resubmission"] and again["id"] == r["id"]
    assert Standard.objects.count() == 2 and RegistryFile.objects.count() == 1


def test_updates_duplicates_and_unknown_subject(plan, orgs, tmp_path):
    a, _ = orgs
    first = tmp_path / "s1.csv"
    first.write_text(HEADER + f"ISO 20022-1:2019,旧名,international,led,,{a},2019-05-01,,\n")
    services.registry_load(kind="standards", path=first)
    second = tmp_path / "s2.csv"
    second.write_text(
        HEADER
        + f"ISO 20022-1:2019,新名,international,led,,{a},2019-05-01,,\n"
        + f"ISO 20022-1:2019,新名,international,led,,{a},2019-05-01,,\n"
        + f"ISO 9001:2015,未登记单位,international,took_part,,{uscc(77)},2015-09-15,,\n"
    )
    r = services.registry_load(kind="standards", path=second)
    assert (r["accepted"], r["updated"], r["duplicates"], r["rejected"]) == (0, 1, 1, 1)
    assert "not in the subject registry" in r["rejected_rows"][0]["reasons"]["organisations"]
    assert Standard.objects.get(number="ISO 20022-1:2019").title == "新名"


def test_gb18030_csv_with_chinese_headers(plan, orgs, tmp_path):
    a, _ = orgs
    path = tmp_path / "商标.csv"
    text = (
        "注册号,商标,国际分类,注册人,权利人统一社会信用代码,状态,注册日期,专用权期限至,注销/无效日期\n"
        f"12345678,海尔,7,青岛海尔股份有限公司,{a},registered,2015-01-07,2025-01-06,\n"
        f"12345679,海尔,46,青岛海尔股份有限公司,{a},registered,2015-01-07,2025-01-06,\n"
    )
    path.write_bytes(text.encode("gb18030"))
    r = services.registry_load(kind="trademarks", path=path)
    assert r["encoding"] == "gb18030"
    assert (r["accepted"], r["rejected"]) == (1, 1)
    assert r["rejected_rows"][0]["reasons"]["nice_class"] == "Nice class must be 1–45, not 46"
    assert Trademark.objects.get().mark == "海尔"


def test_refused_file_keeps_nothing_but_the_refusal(plan, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("number,colour\nISO 9001:2015,blue\n")
    r = services.registry_load(kind="standards", path=path)
    assert r["status"] == "refused" and r["refusal_code"] == "wrong_header"
    assert Standard.objects.count() == 0
    assert services.registry_load(kind="standards", path=path)["resubmission"]


def test_jsonl_and_xlsx(plan, orgs, tmp_path):
    from openpyxl import Workbook

    a, b = orgs
    jl = tmp_path / "madrid.jsonl"
    jl.write_text(
        json.dumps(
            {
                "international_number": "1234567",
                "mark": "HAIER",
                "owner_name": "海尔",
                "owner_uscc": a,
                "designated": "US;DE;JP",
                "registered_on": "2019-02-01",
                "valid_until": "2029-02-01",
            },
            ensure_ascii=False,
        )  # fmt: skip
        + "\n{broken\n"
    )
    r = services.registry_load(kind="madrid", path=jl)
    assert (r["accepted"], r["rejected"]) == (1, 1)
    wb = Workbook()
    ws = wb.active
    ws.append(
        ["reference", "kind", "winner_name", "owner_uscc", "awarding_body", "year", "awarded_on"]
    )
    award = ["质奖2019-01", "china_quality_award_nomination", "青岛啤酒", b]
    ws.append([*award, "国家市场监督管理总局", 2019, dt.datetime(2019, 9, 20)])
    xl = tmp_path / "awards.xlsx"
    wb.save(xl)
    r = services.registry_load(kind="quality_awards", path=xl)
    assert r["format"] == "xlsx" and r["accepted"] == 1


def test_computed_target_as_of_a_date_with_items(plan, orgs, tmp_path):
    a, b = orgs
    path = tmp_path / "tm.csv"
    path.write_text(
        "registration_number,mark,nice_class,owner_name,owner_uscc,status,registered_on,"
        "valid_until,ended_on\n"
        f"1001,甲,7,海尔,{a},registered,2010-01-01,2020-12-31,\n"
        f"1002,乙,9,海尔,{a},registered,2019-06-01,2029-05-31,\n"
        f"1003,丙,32,啤酒,{b},cancelled,2012-01-01,2022-01-01,2019-08-01\n"
    )
    services.registry_load(kind="trademarks", path=path)
    target = plan.targets.get(code="valid_trademarks")
    on = {
        D(2019, 1, 1): {"1001", "1003"},
        D(2019, 7, 1): {"1001", "1002", "1003"},
        D(2019, 9, 1): {"1001", "1002"},
        D(2021, 1, 1): {"1002"},
    }
    for day, expected in on.items():
        items = selectors.metric_items(target, day)
        assert set(items.values_list("registration_number", flat=True)) == expected, day
    st = selectors.target_status(target, D(2019, 9, 30))
    assert st["current"]["value"] == 2
    assert st["baseline"]["value"] == 2  # computed on the eve of the plan
    item = selectors.item_dict(
        selectors.metric_items(target, D(2019, 9, 1)).get(registration_number="1002")
    )
    assert item["organisations"] == [{"code": a, "name": "青岛海尔股份有限公司"}]
