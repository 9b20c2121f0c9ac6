"""``qualitycity plan`` commands: import with file:line errors, export, targets and tasks as
JSON."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("plan", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_targets_json_lists_all_targets_with_current_values(plan):
    rows = json.loads(run("targets", "--json", "--on", "2020-06-30"))
    assert len(rows) == plan.targets.count() == 23
    row = next(r for r in rows if r["code"] == "valid_trademarks")
    assert row["current"]["value"] == 0
    assert row["target"] == {"value": 180000, "year": 2020}
    assert {"series", "progress_percent", "projection"} <= set(row)


def test_tasks_json(plan):
    rows = json.loads(run("tasks", "--json"))
    assert len(rows) == 33
    assert rows[0]["number"] == "二(一)" and rows[0]["departments_confirmed"] is False
    only = json.loads(run("tasks", "--department", "agriculture", "--json"))
    assert {r["number"] for r in only} >= {"二(四)", "四(四)"}
    assert all("agriculture" in [r["lead_department"], *r["cooperating_departments"]] for r in only)


def test_export_then_import_file(plan, tmp_path):
    path = tmp_path / "plan.yaml"
    run("export", "--output", str(path))
    result = json.loads(run("import", str(path), "--json"))
    assert result["unchanged"] == 1 + 33 + 23


def test_import_refuses_malformed_file_with_line(plan, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "plan:\n  code: x\n  title: T\n  starts_on: 2021-01-01\n  ends_on: 2020-01-01\n"
        "sections: []\nmeasures: []\n",
        encoding="utf-8",
    )
    with pytest.raises(CommandError) as exc:
        run("import", str(path))
    assert f"{path}:5: plan: ends_on is before starts_on" in str(exc.value)


def test_registry_load_items_assess_notices_release(plan, register_subjects, tmp_path):
    (a,) = register_subjects({1: "青岛海尔股份有限公司"})
    path = tmp_path / "madrid.csv"
    path.write_text(
        "international_number,mark,owner_name,owner_uscc,registered_on,valid_until\n"
        f"1234567,HAIER,海尔,{a},2019-02-01,2029-02-01\n"
        "1234568,BAD,无,,2019-02-01,2029-02-01\n",
        encoding="utf-8",
    )
    result = json.loads(run("registry", "load", "madrid", str(path), "--json"))
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert result["rejected_rows"][0]["reasons"] == {"owner_uscc": "required"}
    again = json.loads(run("registry", "load", "madrid", str(path), "--json"))
    assert again["resubmission"] is True
    items = json.loads(run("items", "madrid_registrations", "--on", "2019-06-30", "--json"))
    assert items["count"] == 1 and items["items"][0]["international_number"] == "1234567"
    assessment = json.loads(run("assess", "2019", "--json"))
    assert assessment["year"] == 2019 and assessment["table"][0]["rank"] == 1
    notices = json.loads(run("notices", "--generate", "--on", "2019-12-31", "--json"))
    assert notices["issued"] == len(notices["notices"]) > 0
    release = json.loads(run("release", "--json"))
    assert release["targets"] == 23


def test_registry_load_refused_file_fails_the_command(plan, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("colour\nblue\n")
    with pytest.raises(CommandError) as exc:
        run("registry", "load", "standards", str(path))
    assert "wrong_header" in str(exc.value)
