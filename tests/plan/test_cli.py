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
